"""Digest Monitor: watch author pages, store every post and edit, publish a weekly digest.

The pipeline, one module (or package) per stage, wired in :mod:`monitor.pipeline`::

    fetch  ->  extract  ->  store  ->  detect  ->  digest  ->  publish
    (aiohttp)  (selectolax,  (sqlite-   (pure)     (pure)      (jinja2,
               feedparser)   utils)                             feedgen)

The scheduler (:mod:`monitor.service`) and the CLI (:mod:`monitor.cli`) are thin
shells around the functions in :mod:`monitor.pipeline`.
"""

__version__ = "0.1.0"
