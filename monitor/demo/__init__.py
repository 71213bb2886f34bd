"""``monitor demo``: a first look with no network.

Serves the seed posts as a small WordPress-like site on 127.0.0.1 (:mod:`monitor.demo.site`:
author pages in the classic, block and Iran Interlink text markups, with author feeds), fetches
it into a fresh database through the real pipeline, builds every week's digest, serves the
digests, and prints the URL to open. Everything it needs ships in the package, so it works
from a wheel with no network.
"""

from __future__ import annotations

import datetime as dt
import signal
import tempfile
import threading
from pathlib import Path
from typing import Any

import click

from ..config import load_config
from ..output import plural
from ..pipeline import Monitor
from ..web import SiteServer
from .site import DemoSite, RunningSite

UTC = dt.UTC


def demo_config(site_base: str, digest_url: str, workdir: Path) -> dict[str, Any]:
    """The config the demo uses: one source per author and markup."""
    sources = [
        {"name": "Massoud Khodabandeh", "type": "auto", "every": "1h", "max_pages": 5,
         "url": f"{site_base}/wordpress/author/?author=massoud-khodabandeh&authorid=4"},
        {"name": "Iran Interlink", "type": "auto", "every": "1h", "max_pages": 5,
         "url": f"{site_base}/classic/author/iran-interlink/"},
        {"name": "Ali Alavi", "type": "auto", "every": "1h", "max_pages": 5,
         "url": f"{site_base}/block/author/ali-alavi/"},
    ]
    return {
        "site": {"title": "Iran Interlink", "url": digest_url},
        "database": "demo.db",  # relative: next to demo.yaml, which is written into workdir
        "output_dir": "site",
        "timezone": "Europe/London",
        "digest": {"week_ends_on": "friday"},
        "sources": sources,
    }


#: The demo's default port: not the service's 8000, so a demo can run next to `monitor run`.
DEMO_PORT = 8765

#: The demo's config, written next to its database so `monitor --config DIR/demo.yaml posts`,
#: `history` and `status` work on the demo data afterwards.
DEMO_CONFIG = "demo.yaml"


def write_demo_config(workdir: Path, data: dict[str, Any]) -> Path:
    import yaml

    path = workdir / DEMO_CONFIG
    header = ("# Written by `monitor demo`: its sources are the sample site, served only while the demo runs.\n"
              "# Look at what it stored with: monitor --config THIS_FILE posts | status | history URL\n")
    path.write_text(header + yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def run_demo(*, port: int = DEMO_PORT, workdir: Path | None = None, serve: bool = True) -> int:
    workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="monitor-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    with RunningSite(DemoSite.from_seeds()) as site:
        digest_server = SiteServer(workdir / "site", "127.0.0.1", port if serve else 0)
        try:
            digest_server.start()
        except OSError as e:
            click.echo(f"error: cannot listen on 127.0.0.1:{port}: {e} (try --port)", err=True)
            return 1
        try:
            config_path = write_demo_config(workdir, demo_config(site.url, digest_server.url, workdir))
            config = load_config(config_path)
            click.echo(f"sample site: {site.url}/  (three authors, classic/block/text markups, feeds)")
            with Monitor.open(config) as app:
                results = app.fetch_sync()
                for r in results:
                    state = f"error: {r.error}" if r.error else f"{plural(r.new, 'new post')}, {plural(r.pages, 'page')}"
                    click.echo(f"fetched {r.source}: {state}")
                report = app.publish(all_weeks=True, now=dt.datetime.now(UTC))
            click.echo(f"built {len(report.weeks_built)} weekly digests into {config.output_dir}")
            click.echo(f"database: {config.database}")
            click.echo(f"config: {config_path}  (monitor --config {config_path} posts | status | history URL)")
            if not serve:
                return 0 if all(r.ok for r in results) else 1
            click.echo(f"\nOpen {digest_server.url}  (feed: {digest_server.url}feed.xml)")
            click.echo("Press Ctrl-C to stop.")
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            try:
                while not stop.wait(0.5):
                    pass
            except KeyboardInterrupt:
                pass
            return 0
        finally:
            digest_server.shutdown()

