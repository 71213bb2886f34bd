"""Say what is wrong with a configured path, in words a user can act on.

Why: the operating system's answers name neither the path nor the real problem. SQLite says
"unable to open database file" for a database path that is a folder; ``mkdir`` on an
``output_dir`` that is a file says "File exists", which the web server turned into "cannot serve
on 127.0.0.1:8108: File exists". These helpers look at the path only after something failed, so
they cost nothing on the normal path.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["path_problem"]


def _first_missing_or_blocking(path: Path) -> tuple[Path, str] | None:
    """The nearest ancestor that is not a folder (a file in the way), if any."""
    for parent in reversed(path.parents):
        if parent.exists() and not parent.is_dir():
            return parent, "is a file, not a folder"
    return None


def path_problem(path: Path | str, *, folder: bool, what: str) -> str | None:
    """``"<what> /x/site: it is a file, not a folder"``-style sentence, or None when nothing obvious
    is wrong (the caller then shows the system's own message).

    ``folder``: whether ``path`` must be a folder (``output_dir``) or a file (``database``).
    """
    path = Path(path)
    blocking = _first_missing_or_blocking(path)
    if blocking is not None:
        parent, problem = blocking
        return f"{what} {path}: {parent} {problem}"
    if path.exists():
        if folder and not path.is_dir():
            return f"{what} {path}: it is a file, not a folder"
        if not folder and path.is_dir():
            return f"{what} {path}: it is a folder, not a file"
        if not os.access(path, os.R_OK | os.W_OK | (os.X_OK if folder else 0)):
            return f"{what} {path}: permission denied (cannot read and write it)"
        return None
    existing = next((p for p in path.parents if p.exists()), None)
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        return f"{what} {path}: cannot create it, no permission to write in {existing}"
    return None
