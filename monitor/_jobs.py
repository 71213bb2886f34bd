"""The CPU-bound jobs :mod:`monitor.pipeline` runs in worker processes: extract and decide.

A worker is ``python -m monitor._jobs``: a fresh interpreter that imports only what parsing needs
(extract, detect: ~30 MB, ~0.1 s) and none of the fetch and storage stack, and never the caller's
``__main__`` (multiprocessing's spawn and forkserver re-import it in every worker, which costs
time and memory and breaks scripts without an ``if __name__ == "__main__"`` guard).

Protocol, over the worker's stdin and stdout: the worker writes ``READY`` once imported; then
each request is an 8-byte little-endian length and a pickle of ``(job name, args)``, and each
reply the same framing around ``(True, result)`` or ``(False, exception)``. Both jobs are pure:
bytes and values in, values out (frozen slots dataclasses, ZoneInfo, plain dicts). An exception
raised here (ExtractError, FeedError) reaches the pipeline as if the call had been made there.
The worker exits at end of input, so it never outlives the process that started it.
"""

from __future__ import annotations

import os
import pickle
import struct
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from .config import Selectors
from .detect import decide
from .extract import extract, post_identity
from .models import Decision, Page, PostData, StoredPost

__all__ = ["JOBS", "READY", "decide_all", "extract_page", "frame", "serve"]

READY = b"READY\n"
_LENGTH = struct.Struct("<Q")


def extract_page(
    body: bytes, url: str, headers: Mapping[str, str] | None, tz: ZoneInfo, kind: str,
    selectors: Selectors | None, decide_new: bool,
) -> tuple[Page, tuple[tuple[str, str, Decision], ...] | None]:
    """:func:`monitor.extract.extract`; with ``decide_new``, also each post's
    ``(*post_identity(post), decide(None, post))`` (what the pipeline needs for a source with nothing
    stored yet, so no second round trip and no identity work in the caller)."""
    page = extract(body, url=url, headers=headers, tz=tz, kind=kind, selectors=selectors)  # type: ignore[arg-type]
    if not decide_new:
        return page, None
    return page, tuple((*post_identity(p), decide(None, p, tz=tz)) for p in page.posts)


def decide_all(pairs: Sequence[tuple[StoredPost | None, PostData]], tz: ZoneInfo) -> list[Decision]:
    """:func:`monitor.detect.decide` for each ``(stored, observed)`` pair."""
    return [decide(old, new, tz=tz) for old, new in pairs]


JOBS: dict[str, Callable[..., Any]] = {"extract_page": extract_page, "decide_all": decide_all}


def frame(obj: Any) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(data)) + data


def _read_exactly(stream: BinaryIO, n: int) -> bytes | None:
    chunks = []
    while n:
        chunk = stream.read(n)
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def serve(inp: BinaryIO, out: BinaryIO) -> None:
    """Answer requests until end of input."""
    out.write(READY)
    out.flush()
    while (head := _read_exactly(inp, _LENGTH.size)) is not None:
        body = _read_exactly(inp, _LENGTH.unpack(head)[0])
        if body is None:
            return
        try:
            name, args = pickle.loads(body)
            reply = frame((True, JOBS[name](*args)))
        except Exception as e:  # noqa: BLE001 -- the caller's to handle, as if the call were local
            try:
                reply = frame((False, e))
            except Exception:  # noqa: BLE001 -- an exception that does not pickle
                reply = frame((False, RuntimeError(f"{type(e).__name__}: {e}")))
        out.write(reply)
        out.flush()


def main() -> None:
    # Replies go to a private copy of stdout; fd 1 then points at stderr, so a stray print()
    # in a library can never corrupt the reply stream.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        serve(sys.stdin.buffer, out)
    except (BrokenPipeError, KeyboardInterrupt):
        pass


if __name__ == "__main__":
    main()
