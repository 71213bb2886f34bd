"""Delivery: the channels a published week goes out through, and the rules of sending it once.

The delivery side of the pipeline's seams: :class:`Edition` (what a channel is handed: the
week's values, never the store), :class:`Channel` (a Protocol: ``email`` in :mod:`.mail`,
``notify`` in :mod:`.notify`), the ledger decisions (:mod:`.ledger`, pure) and the status block
(:mod:`.status`, pure). The orchestration that reads the store and writes the ledger is the
pipeline's: :mod:`monitor.pipeline.delivering`, called through ``Monitor.deliver``.
"""

from __future__ import annotations

from .edition import Channel, Edition
from .ledger import deliveries_report
from .status import channel_names, format_deliveries

__all__ = ["Channel", "Edition", "channel_names", "deliveries_report", "format_deliveries"]
