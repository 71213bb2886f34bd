"""A sample WordPress-like site built from the seeds, for tests, ``monitor demo`` and the benchmark.

::

    from sample_site import SampleSite, serve

    site = SampleSite.from_seeds()
    with serve(site) as srv:             # real HTTP on 127.0.0.1, a free port
        site.source_urls()               # [(name, url, "html" | "feed"), ...]
        site.add_post("ali-alavi", "New title", "2021/11/01", "Ali Alavi, Iran Interlink, ...")
        site.set_noise(True)             # chrome changes, posts do not
        site.fail("/classic/", 503)      # faults for tests
        srv.hits["/classic/author/ali-alavi/"]

See :mod:`sample_site.site` for the URL layout.
"""

from monitor.demo.seeds import SampleAuthor, SamplePost, load_seed_authors, parse_seed_text, slugify

from .server import RequestRecord, RunningServer, serve
from .site import MOUNTS, THEMES, Rendered, SampleSite, generate_site

__all__ = [
    "MOUNTS",
    "THEMES",
    "Rendered",
    "RequestRecord",
    "RunningServer",
    "SampleAuthor",
    "SamplePost",
    "SampleSite",
    "generate_site",
    "load_seed_authors",
    "parse_seed_text",
    "serve",
    "slugify",
]
