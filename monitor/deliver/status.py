"""The "deliveries" block of ``monitor status`` and ``/healthz``, as lines: pure.

The block itself is :func:`~monitor.deliver.ledger.deliveries_report` of the ledger rows
(``Monitor.deliveries()``); nothing secret is in it (recipients are addresses or masked URLs).
"""

from __future__ import annotations

from typing import Any

from ..config import Config

__all__ = ["channel_names", "format_deliveries"]


def channel_names(config: Config) -> list[str]:
    """The channels configured under ``deliver:``, in their order."""
    return (["email"] if config.deliver.email is not None else []) + (["notify"] if config.deliver.notify else [])


def format_deliveries(block: dict[str, Any]) -> list[str]:
    """The block as the lines ``monitor status`` prints."""
    out = ["deliveries:"]
    for ch, b in block.items():
        last = b["last"]
        if last is None:
            out.append(f"  {ch}: nothing delivered yet")
            continue
        out.append(f"  {ch}: last {last['state']} the week ending {last['week_ending']} to {last['recipient']} "
                   f"at {last['at']}; week ending {b['week_ending']}: {b['sent']} sent, {b['queued']} queued, "
                   f"{len(b['waiting'])} waiting to retry, {len(b['failed'])} failed")
        out += [f"    retry {w['recipient']} (week ending {w['week_ending']}) at {w['next_attempt']}: {w['error']}"
                for w in b["waiting"]]
        out += [f"    failed {f['recipient']} (week ending {f['week_ending']}): {f['error']}" for f in b["failed"]]
    return out
