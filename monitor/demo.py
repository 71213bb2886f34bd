"""``monitor demo``: a first look with no network.

Generates a small WordPress-like site from the seeds (author pages in the
classic, block and Iran Interlink text markups, with author feeds), serves it on
127.0.0.1, fetches it into a fresh database through the real pipeline, builds
every week's digest, serves the digests, and prints the URL to open.
"""

from __future__ import annotations

import datetime as dt
import signal
import sys
import tempfile
import threading
from pathlib import Path

import click

from .config import parse_config
from .pipeline import Monitor
from .sample.server import serve as serve_sample
from .sample.site import SampleSite
from .web import SiteServer

UTC = dt.timezone.utc


def demo_config(site_base: str, digest_url: str, workdir: Path) -> dict:
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
    site = SampleSite.from_seeds()
    with serve_sample(site) as sample:
        digest_server = SiteServer(workdir / "site", "127.0.0.1", port if serve else 0)
        try:
            digest_server.start()
        except OSError as e:
            click.echo(f"error: cannot listen on 127.0.0.1:{port}: {e} (try --port)", err=True)
            return 1
        try:
            config = parse_config(demo_config(sample.url, digest_server.url, workdir), base_dir=workdir)
            click.echo(f"sample site: {sample.url}/  (three authors, classic/block/text markups, feeds)")
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run_demo())
