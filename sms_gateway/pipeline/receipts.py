"""Delivery receipts from the links: screened by the gate, written by the guarded writer,
applied to the outbox (`outbox.apply_receipts`) in the same transaction.

The receipts' part of the pipeline's `InboundSink` (see `sink`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from sms_gateway.pipeline import gate, outbox
from sms_gateway.pipeline.guarded import GuardedWriter
from sms_gateway.transport import DeliveryReceipt


class Receipts:
    """Records what the network says about the replies we sent."""

    def __init__(self, writer: GuardedWriter) -> None:
        self.writer = writer

    def record(self, receipts: Sequence[DeliveryReceipt]) -> None:
        """Record receipts like the inbox records parts (a receipt no column holds is
        quarantined); raises StoreError only when the database itself failed."""
        if not receipts:
            return
        admitted, refused = gate.screen_receipts(receipts)
        self.writer.commit(admitted, refused, self._apply, urgent=False, count=len(receipts))

    def _apply(self, conn: Connection, receipts: Sequence[DeliveryReceipt]) -> bool:
        outbox.apply_receipts(conn, receipts, self.writer.clock())
        return False
