"""The "deliveries" block of ``monitor status`` and ``/healthz``: built by the pure
:func:`~monitor.deliver.ledger.deliveries_report` from the ledger rows; nothing secret in it."""

from __future__ import annotations

from typing import Any

from ..config import Config
from ..store import Store
from .ledger import deliveries_report

__all__ = ["channel_names", "deliveries_block", "deliveries_lines", "format_deliveries"]


def channel_names(config: Config) -> list[str]:
    return (["email"] if config.deliver.email is not None else []) + (["notify"] if config.deliver.notify else [])


def deliveries_block(config: Config, store: Store) -> dict[str, Any] | None:
    """Per configured channel (and any channel the ledger still holds): its last delivery; None without any."""
    names = channel_names(config)
    rows = store.deliveries()
    if not names and not rows:
        return None
    return deliveries_report(names, rows)


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
        for w in b["waiting"]:
            out.append(f"    retry {w['recipient']} (week ending {w['week_ending']}) at {w['next_attempt']}: "
                       f"{w['error']}")
        for f in b["failed"]:
            out.append(f"    failed {f['recipient']} (week ending {f['week_ending']}): {f['error']}")
    return out


def deliveries_lines(config: Config) -> list[str]:
    with Store.open(config.database) as store:
        block = deliveries_block(config, store)
    return format_deliveries(block) if block else []
