"""Response bodies: read raw, inflated here, counted after decompression.

aiohttp would inflate for us, but without a bound on what one compressed chunk may become; here
every inflate call yields at most ``_CHUNK`` bytes, so a gzip bomb costs the cap plus one chunk
of memory before :class:`~monitor.errors.TooLarge` stops it. ``deflate`` is accepted both
zlib-wrapped (as RFC 9110 says) and raw (as some servers send it); several encodings in one
header are undone in reverse order; anything else is refused with a clear error.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import aiohttp

from ..errors import FetchError, TooLarge

_CHUNK = 64 * 1024  # most decompressed bytes produced per inflate call
_GZIP_MAGIC = b"\x1f\x8b"


async def read_body(response: aiohttp.ClientResponse, url: str, max_bytes: int, truncate: bool) -> bytes:
    """The decompressed body; over ``max_bytes`` it is TooLarge, or cut there when ``truncate``."""
    declared = response.headers.get("content-length", "").strip()
    if not truncate and declared.isdigit() and int(declared) > max_bytes:
        raise TooLarge(
            f"response larger than {_size(max_bytes)}: {url} announces {_size(int(declared))} "
            "(the limit is fetch.max_bytes)",
            url=url,
        )
    layers = _decoders(response.headers.get("content-encoding", ""), url)
    stream = response.content.iter_chunked(_CHUNK)  # raw: the session has auto_decompress=False
    chunks: list[bytes] = []
    size = raw = 0
    async for data in stream:
        raw += len(data)
        for piece in _inflate(layers, data, url):
            chunks.append(piece)
            size += len(piece)
            if size > max_bytes:
                if truncate:
                    return b"".join(chunks)[:max_bytes]
                after = " after decompression" if layers else ""
                raise TooLarge(
                    f"response larger than {_size(max_bytes)}{after} from {url} (the limit is fetch.max_bytes)",
                    url=url,
                )
        if raw > max_bytes:  # compressed data that inflates to nothing (empty gzip members, say)
            if truncate:
                return b"".join(chunks)
            raise TooLarge(
                f"response larger than {_size(max_bytes)} from {url} (the limit is fetch.max_bytes)", url=url
            )
    for layer in layers:
        layer.finish(url)
    return b"".join(chunks)


def _decoders(header: str, url: str) -> list[_Inflater]:
    """Inflaters for a Content-Encoding header, in decoding order (the last one applied first)."""
    layers = []
    for token in reversed(header.lower().split(",")):
        token = token.strip()
        if token in ("", "identity"):
            continue
        if token in ("gzip", "x-gzip", "deflate"):
            layers.append(_Inflater("deflate" if token == "deflate" else "gzip"))
        else:
            raise FetchError(
                f"{url} was sent compressed as {token!r}, which the monitor cannot decode "
                "(it only asks for gzip or deflate)",
                url=url,
            )
    return layers


def _inflate(layers: list[_Inflater], data: bytes, url: str) -> Iterator[bytes]:
    if not layers:
        yield data
        return
    for piece in layers[0].feed(data, url):
        yield from _inflate(layers[1:], piece, url)


class _Inflater:
    """One gzip or deflate layer; every piece it yields is at most ``_CHUNK`` bytes, however dense the input."""

    def __init__(self, encoding: str):
        self.encoding = encoding
        # gzip: wbits | 32 also takes a zlib stream mislabelled gzip. deflate: decided on the first 2 bytes.
        self._obj = zlib.decompressobj(zlib.MAX_WBITS | 32) if encoding == "gzip" else None
        self._held = b""  # too few bytes to tell what they start
        self._started = False  # any compressed byte seen
        self._ignoring = False  # past the end of the stream: the rest is ignored, as browsers do
        self._more = False  # the last call filled a whole chunk: zlib may hold output for input it took

    def feed(self, data: bytes, url: str) -> Iterator[bytes]:
        data, self._held = self._held + data, b""
        self._started = self._started or bool(data)
        if self._ignoring:
            return
        if self._obj is None:  # deflate is zlib-wrapped (RFC 9110) or, from some servers, raw
            if len(data) < 2:
                self._held = data
                return
            self._obj = zlib.decompressobj(zlib.MAX_WBITS if _zlib_header(data) else -zlib.MAX_WBITS)
        try:
            while data or self._more:
                if self._obj.eof:
                    if self.encoding == "gzip" and len(data) < 2:
                        self._held = data  # perhaps the start of another gzip member
                        return
                    if self.encoding == "gzip" and data.startswith(_GZIP_MAGIC):
                        self._obj = zlib.decompressobj(zlib.MAX_WBITS | 32)
                        continue
                    self._ignoring = True
                    return
                out = self._obj.decompress(data, _CHUNK)
                data = self._obj.unused_data if self._obj.eof else self._obj.unconsumed_tail
                self._more = len(out) == _CHUNK and not self._obj.eof
                if out:
                    yield out
        except zlib.error as e:
            raise FetchError(f"could not decompress the {self.encoding} body of {url}: {e}", url=url) from e

    def finish(self, url: str) -> None:
        if self._started and not self._ignoring and (self._obj is None or not self._obj.eof):
            raise FetchError(
                f"the {self.encoding} body of {url} stops before its end (the download was cut short)",
                url=url,
            )


def _zlib_header(data: bytes) -> bool:
    """Whether ``data`` starts with a zlib (RFC 1950) header rather than raw deflate."""
    return data[0] & 0x0F == 8 and data[0] >> 4 <= 7 and ((data[0] << 8) | data[1]) % 31 == 0


def _size(n: int) -> str:
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"
