"""The parse-worker pool: extract and decide (CPU work) in worker processes.

Both sides live here, so the wire format is in one place:

- the **pool** (:class:`ParsePool`, used by the pipeline): up to ``size`` worker processes started
  on first use and kept until :meth:`ParsePool.aclose`. Its owner decides its lifetime: one
  ``monitor fetch`` for the length of that run, ``monitor run`` for the life of the service.
- the **worker** (``python -m monitor.workers``): a fresh interpreter that imports only what parsing
  needs (extract, detect) and none of the fetch and storage stack, and never the caller's
  ``__main__`` (multiprocessing's spawn and forkserver re-import it in every worker, which costs
  time and memory and breaks scripts without an ``if __name__ == "__main__"`` guard).

Protocol, over the worker's stdin and stdout: the worker writes ``READY`` once imported; then
each request is an 8-byte little-endian length and a pickle of ``(job name, args)``, and each
reply the same framing around ``(True, result)`` or ``(False, exception)``. Both jobs are pure:
bytes and values in, values out (frozen slots dataclasses, ZoneInfo, plain dicts). An exception
raised in a job (ExtractError, FeedError) reaches the caller as if the call had been made there.
A worker exits at end of input, so it never outlives the process that started it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import struct
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from .config import Selectors
from .detect import decide
from .errors import MonitorError, SourceError
from .models import Decision, Page, PostData, StoredPost

__all__ = ["JOBS", "MAX_PARSE_WORKERS", "READY", "ParsePool", "WorkerDied", "decide_all",
           "default_parse_workers", "extract_page", "frame", "serve"]

log = logging.getLogger("monitor")

#: Parsing (extract + decide) is CPU work. With more than one core it runs in up to this many
#: worker processes, so fetching (the event loop) and parsing overlap and every core is used.
MAX_PARSE_WORKERS = 2


# -- the worker side ---------------------------------------------------------------------------

READY = b"READY\n"
_LENGTH = struct.Struct("<Q")


def extract_page(
    body: bytes, url: str, headers: Mapping[str, str] | None, tz: ZoneInfo, kind: str,
    selectors: Selectors | None, decide_new: bool,
) -> tuple[Page, tuple[tuple[str, str, Decision], ...] | None]:
    """:func:`monitor.extract.extract`; with ``decide_new``, also each post's
    ``(*post_identity(post), decide(None, post))`` (what the pipeline needs for a source with nothing
    stored yet, so no second round trip and no identity work in the caller)."""
    from .extract import extract, post_identity  # here: a run of 304s (and `status`) never loads the parsers

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


# -- the pool side ---------------------------------------------------------------------------


def default_parse_workers() -> int:
    """Worker processes for parsing: one per core, at most MAX_PARSE_WORKERS; 0 on one core."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return min(cores, MAX_PARSE_WORKERS) if cores > 1 else 0


class WorkerDied(Exception):
    pass


class _Worker:
    """One ``python -m monitor._jobs`` process: one job at a time over its stdin and stdout."""

    def __init__(self, proc: asyncio.subprocess.Process):
        self.proc = proc

    @classmethod
    async def start(cls, spawned: list[asyncio.subprocess.Process] | None = None) -> _Worker:
        package_parent = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH")) if p)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", __name__, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=env,
        )
        if spawned is not None:
            spawned.append(proc)  # reaped by the pool's aclose, whatever happens to this worker
        worker = cls(proc)
        try:
            assert proc.stdout is not None
            ready = await proc.stdout.readline()
        except BaseException:
            worker.kill()
            raise
        if ready != READY:
            worker.kill()
            raise WorkerDied(f"{sys.executable} -m {__name__} did not start")
        return worker

    async def call(self, name: str, args: tuple[Any, ...]) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(frame((name, args)))
            await self.proc.stdin.drain()
            head = await self.proc.stdout.readexactly(_LENGTH.size)
            data = await self.proc.stdout.readexactly(_LENGTH.unpack(head)[0])
        except (asyncio.IncompleteReadError, ConnectionError, OSError) as e:
            raise WorkerDied(str(e)) from e
        ok, value = pickle.loads(data)
        if not ok:
            raise value
        return value

    def kill(self) -> None:
        if self.proc.returncode is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass

    async def aclose(self) -> None:
        """End of input ends the worker; it is killed if it has not gone within a second."""
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 1.0)
        except (TimeoutError, asyncio.CancelledError):
            self.kill()
            await self.proc.wait()


class ParsePool:
    """Up to ``size`` worker processes for the jobs of :mod:`monitor._jobs`, started on first use.

    Workers are separate interpreters (``python -m monitor._jobs``), not multiprocessing: no fork
    of a threaded process, no re-import of the caller's ``__main__``. A worker that dies (killed,
    out of memory) is replaced and the job tried once more; a second death is that source's error.
    When no worker can be started at all, jobs run in a thread of this process instead.
    """

    def __init__(self, size: int):
        self.size = size
        self._idle: list[_Worker] = []
        self._workers: set[_Worker] = set()
        self._starting = 0
        self._freed: asyncio.Condition | None = None
        self.unavailable = False
        self._spawned: list[asyncio.subprocess.Process] = []

    async def _acquire(self) -> _Worker:
        if self._freed is None:
            self._freed = asyncio.Condition()
        async with self._freed:
            while True:
                if self._idle:
                    return self._idle.pop()
                if len(self._workers) + self._starting < self.size:
                    self._starting += 1
                    break
                await self._freed.wait()
        try:
            worker = await _Worker.start(self._spawned)
            self._workers.add(worker)
            return worker
        finally:
            async with self._freed:
                self._starting -= 1
                self._freed.notify()

    async def _release(self, worker: _Worker, *, broken: bool = False) -> None:
        assert self._freed is not None
        if broken:
            self._workers.discard(worker)
            worker.kill()
        async with self._freed:
            if not broken and worker in self._workers:
                self._idle.append(worker)
            self._freed.notify()

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` in a worker (``fn`` is a job of :mod:`monitor._jobs`)."""
        for attempt in (1, 2):
            if self.unavailable:
                return await asyncio.to_thread(fn, *args)
            try:
                worker = await self._acquire()
            except (WorkerDied, OSError) as e:
                log.warning("cannot start a parser process (%s); parsing in this process instead", e)
                self.unavailable = True
                continue
            try:
                result = await worker.call(fn.__name__, args)
            except WorkerDied:
                await self._release(worker, broken=True)
                if attempt == 2:
                    raise SourceError("a parser process died while reading this source (out of memory?)") from None
                continue
            except MonitorError:
                await self._release(worker)  # the job's own error (ExtractError, ...): the worker is fine
                raise
            except BaseException:
                # cancelled mid-call, or a reply that did not unpickle: its reply would be read as
                # the next job's, so this worker is done
                await self._release(worker, broken=True)
                raise
            await self._release(worker)
            return result
        return await asyncio.to_thread(fn, *args)

    async def aclose(self) -> None:
        workers, self._workers, self._idle = list(self._workers), set(), []
        await asyncio.gather(*(w.aclose() for w in workers), return_exceptions=True)
        # workers killed mid-job or mid-start (a run ended by a storage error cancels its sources)
        # must be reaped before the loop closes, or their transports print tracebacks at exit
        spawned, self._spawned = self._spawned, []
        for proc in spawned:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
        await asyncio.gather(*(proc.wait() for proc in spawned), return_exceptions=True)


if __name__ == "__main__":
    main()
