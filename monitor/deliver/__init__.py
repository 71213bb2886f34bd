"""Delivery: each published week to every recipient of every channel, exactly once.

The delivery side of the pipeline's seams: :class:`Edition` (what a channel is handed),
:class:`Channel` (a Protocol: ``email`` in :mod:`.mail`, ``notify`` in :mod:`.notify`), the
ledger decisions (:mod:`.ledger`, pure) and one orchestration function,
:func:`deliver_editions` (:mod:`.run`), that the service and ``monitor deliver`` call.
"""

from __future__ import annotations

from .edition import Channel, Edition
from .ledger import deliveries_report
from .run import DeliveryReport, build_channels, deliver_editions, edition_for

__all__ = ["Channel", "DeliveryReport", "Edition", "build_channels", "deliver_editions", "deliveries_report",
           "edition_for"]
