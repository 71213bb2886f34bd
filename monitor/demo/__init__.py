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

import click

from ..config import parse_config
from ..pipeline import Monitor
from ..web import SiteServer
from .site import DemoSite, RunningSite

UTC = dt.UTC


def demo_config(site_base: str, digest_url: str, workdir: Path) -> dict[str, object]:
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
        "database": str(workdir / "demo.db"),
        "output_dir": str(workdir / "site"),
        "timezone": "Europe/London",
        "digest": {"week_ends_on": "friday"},
        "sources": sources,
    }


def run_demo(*, port: int = 8000, workdir: Path | None = None, serve: bool = True) -> int:
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
            config = parse_config(demo_config(site.url, digest_server.url, workdir), base_dir=workdir)
            click.echo(f"sample site: {site.url}/  (three authors, classic/block/text markups, feeds)")
            with Monitor.open(config) as app:
                results = app.fetch_sync()
                for r in results:
                    state = f"error: {r.error}" if r.error else f"{r.new} new posts, {r.pages} page(s)"
                    click.echo(f"fetched {r.source}: {state}")
                report = app.publish(all_weeks=True, now=dt.datetime.now(UTC))
            click.echo(f"built {len(report.weeks_built)} weekly digests into {config.output_dir}")
            click.echo(f"database: {config.database}")
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

