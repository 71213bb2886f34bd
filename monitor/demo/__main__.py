"""``python -m monitor.demo``: the same as ``monitor demo`` with its defaults."""

from __future__ import annotations

import sys

from . import run_demo

sys.exit(run_demo())
