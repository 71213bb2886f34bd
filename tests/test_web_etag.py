"""A conditional GET of feed.xml that ends in a 304 costs an fstat: the ETag (a hash of the bytes)
is computed once per version of a file, and the file is not read again for a 304. The tag stays a
strong content validator: equal bytes, equal tag (also after a restart); new bytes, a new tag."""

from __future__ import annotations

import http.client
import os
from pathlib import Path

import pytest

from monitor.web import SiteServer

RSS = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
       b'<rss version="2.0"><channel><title>t</title></channel></rss>\n')


def get(server: SiteServer, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    port = int(server.url.rsplit(":", 1)[1].strip("/"))
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


class HashCount:
    """Counts the server's ETag computations (each one is a read and a hash of a whole file)."""

    def __init__(self, server: SiteServer):
        inner = server._server
        assert inner is not None
        self.n = 0
        original = inner.remember_etag

        def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
            self.n += 1
            return original(*args, **kwargs)

        inner.remember_etag = counting  # type: ignore[method-assign]


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    root.mkdir()
    (root / "feed.xml").write_bytes(RSS)
    return root


def _publish(site: Path, data: bytes, bump: float) -> None:
    """Write feed.xml as the publisher does: a temp file renamed over the old one."""
    tmp = site / ".feed.xml.tmp"
    tmp.write_bytes(data)
    later = os.stat(site / "feed.xml").st_mtime + bump
    os.utime(tmp, (later, later))
    os.replace(tmp, site / "feed.xml")


def test_a_304_neither_reads_nor_hashes_the_file(site):
    with SiteServer(site, "127.0.0.1", 0) as server:
        hashes = HashCount(server)
        status, headers, body = get(server, "/feed.xml")
        assert status == 200 and body == RSS and hashes.n == 1
        etag = headers["etag"]
        for _ in range(5):
            status, h, body = get(server, "/feed.xml", {"If-None-Match": etag})
            assert (status, body, h["etag"]) == (304, b"", etag)
        assert get(server, "/feed.xml", {"If-Modified-Since": headers["last-modified"]})[0] == 304
        assert hashes.n == 1  # hashed once for this version of the file

        # Proof that a 304 does not read the file: change its bytes in place, keeping inode, size
        # and mtime. A server that read and hashed the file would now see another tag and answer
        # 200; ours answers from the cached tag. (The publisher never writes in place: it renames.)
        st = os.stat(site / "feed.xml")
        with open(site / "feed.xml", "r+b") as f:
            f.write(RSS.replace(b"<title>t</title>", b"<title>X</title>"))
        os.utime(site / "feed.xml", ns=(st.st_atime_ns, st.st_mtime_ns))
        assert os.stat(site / "feed.xml").st_ino == st.st_ino
        assert get(server, "/feed.xml", {"If-None-Match": etag})[0] == 304
        assert hashes.n == 1


def test_the_etag_is_a_content_validator_across_versions_and_restarts(site):
    with SiteServer(site, "127.0.0.1", 0) as server:
        hashes = HashCount(server)
        etag = get(server, "/feed.xml")[1]["etag"]
        # the same bytes published again (new inode, new mtime): hashed again, the same tag
        _publish(site, RSS, bump=5)
        status, headers, _ = get(server, "/feed.xml", {"If-None-Match": etag})
        assert status == 304 and headers["etag"] == etag and hashes.n == 2
        # new bytes: a new tag, and the old tag gets the new file
        new = RSS.replace(b"<title>t</title>", b"<title>u</title>")
        _publish(site, new, bump=10)
        status, headers, body = get(server, "/feed.xml", {"If-None-Match": etag})
        assert status == 200 and body == new and headers["etag"] != etag
        new_tag = headers["etag"]
        assert get(server, "/feed.xml", {"If-None-Match": new_tag})[0] == 304
        assert hashes.n == 3
    # a restarted server (cold cache) gives the same tag for the same bytes: readers keep their 304s
    with SiteServer(site, "127.0.0.1", 0) as server:
        hashes = HashCount(server)
        status, headers, _ = get(server, "/feed.xml", {"If-None-Match": new_tag})
        assert status == 304 and headers["etag"] == new_tag and hashes.n == 1
        status, _, body = get(server, "/feed.xml")
        assert status == 200 and body == new and hashes.n == 1
