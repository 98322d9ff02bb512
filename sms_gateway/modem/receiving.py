"""Inbound work of a modem: SIM sweeps and notifications, delete only after the commit.

Parts read together are stored together (one `sink.store`, one transaction), then deleted
from the SIM one by one; notifications that queued up together (the +CMTI of a long SMS's
parts, or of a burst that arrived during a send) are read and stored together too.  A failed
store leaves them on the SIM: the next sweep finds them again, and their dedup keys make a
second store harmless.  A message the database refuses for what it holds is quarantined by
the sink and deleted like the others; a PDU that cannot be decoded at all is set aside in
the quarantine too, then deleted: left on the SIM it was read again at every sweep and
filled the SIM.  Status reports become receipts of whole messages through the modem's
`ReceiptBook`.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Sequence

from permits.phones import mask
from sms_encoding.errors import CodecError
from sms_gateway.modem import pdu
from sms_gateway.modem.at_events import Unsolicited
from sms_gateway.modem.commands import MAX_INDEX_DIGITS, ModemCommands, StoredMessage
from sms_gateway.modem.inbound import to_part, to_receipt
from sms_gateway.modem.receipts import ReceiptBook
from sms_gateway.pipeline.gate import bounded_int
from sms_gateway.transport import (
    DeliveryReceipt,
    InboundPart,
    InboundSink,
    StoreError,
    Unreadable,
)

log = logging.getLogger(__name__)
_INDEX = re.compile(r'^"?(\w*)"?\s*,\s*(\d+)$')


class Receiver:
    """Turns what one modem holds or announces into stored parts and receipts."""

    def __init__(
        self,
        channel: str,
        modem: str,
        sink: InboundSink,
        on_received: Callable[[int], None],
        book: ReceiptBook | None = None,
    ) -> None:
        self.channel = channel
        self.modem = modem
        self.sink = sink
        self.book = book if book is not None else ReceiptBook(modem)
        self._on_received = on_received

    def sweep(self, commands: ModemCommands) -> None:
        """Everything on the SIM: what arrived before start-up, or while a store failed."""
        messages = commands.list_all()
        if messages:
            self._take(commands, messages)

    def notice(self, commands: ModemCommands, event: Unsolicited) -> None:
        self.notice_all(commands, [event])

    def notice_all(self, commands: ModemCommands, events: Sequence[Unsolicited]) -> None:
        """Act on notifications that queued up together: one store, one receipts call."""
        messages: list[StoredMessage] = []
        receipts: list[DeliveryReceipt] = []
        read: set[int] = set()
        for event in events:
            if event.name == "+CMTI" or event.name == "+CDSI":
                index = _storage_index(event.args)
                if index is None or index in read:
                    continue
                read.add(index)
                stored = commands.read(index)
                if stored is not None:
                    messages.append(stored)
            elif event.name == "+CDS" and event.pdu:
                receipt = self._report(event.pdu)
                if receipt is not None:
                    receipts.append(receipt)
            elif event.name == "+CMT" and event.pdu:
                # Routed past the SIM (someone set AT+CNMI mt=2): nothing to delete, store it.
                messages.append(StoredMessage(0, 0, event.pdu))
            else:
                log.debug("modem %s: notification %s %s", self.modem, event.name, event.args)
        if messages:
            self._take(commands, messages)
        if receipts:
            try:
                self.sink.receipts(receipts)
            except StoreError as exc:
                # +CDS is not stored anywhere: a receipt lost here only leaves a row unconfirmed.
                log.warning(
                    "modem %s: %d receipt(s) not recorded: %s", self.modem, len(receipts), exc
                )

    def _take(self, commands: ModemCommands, messages: Sequence[StoredMessage]) -> None:
        now = dt.datetime.now(dt.UTC)
        parts: list[InboundPart] = []
        receipts: list[DeliveryReceipt] = []
        unreadable: list[Unreadable] = []
        done: list[int] = []
        for message in messages:
            try:
                decoded = pdu.decode_any(message.pdu)
            except CodecError as exc:
                unreadable.append(self._unreadable(message, exc, now))
                done.append(message.index)
                continue
            if isinstance(decoded, pdu.Deliver):
                parts.append(to_part(self.channel, decoded, now))
            elif isinstance(decoded, pdu.StatusReport):
                receipt = to_receipt(self.channel, self.book, decoded)
                if receipt is not None:
                    receipts.append(receipt)
            else:
                continue  # an SMS-SUBMIT someone stored: not ours to consume
            done.append(message.index)
        try:
            if parts:
                self.sink.store(parts)
            if receipts:
                self.sink.receipts(receipts)
            if unreadable:
                self.sink.set_aside(unreadable)
        except StoreError as exc:
            log.warning(
                "modem %s: store failed (%s); %d SMS stay on the SIM", self.modem, exc, len(done)
            )
            return
        for part in parts:
            log.info("modem %s: stored SMS from %s", self.modem, mask(part.sender))
        self._on_received(len(parts))
        for index in done:
            if index > 0:
                commands.delete(index)

    def _report(self, hex_pdu: str) -> DeliveryReceipt | None:
        try:
            report = pdu.decode_status_report(hex_pdu)
        except CodecError as exc:
            log.warning("modem %s: unreadable status report %s: %s", self.modem, hex_pdu, exc)
            return None
        receipt = to_receipt(self.channel, self.book, report)
        if receipt is None:
            log.debug(
                "modem %s: report for TP-MR %d to %s matches no whole message (yet)",
                self.modem,
                report.reference,
                mask(report.recipient),
            )
        return receipt

    def _unreadable(self, message: StoredMessage, exc: CodecError,
                    now: dt.datetime) -> Unreadable:
        log.error("modem %s: SIM index %d undecodable, set aside in the quarantine: %s",
                  self.modem, message.index, exc)
        try:
            raw = bytes.fromhex(message.pdu)
        except ValueError:  # not even hex: keep the line as the modem wrote it
            raw = message.pdu.encode("latin-1", "replace")
        return Unreadable(self.channel, raw, f"SIM PDU cannot be decoded: {exc}", now)


def _storage_index(args: str) -> int | None:
    """`"SM",3` -> 3 (the memory is the one AT+CPMS selected); None for anything else, a
    number no SIM has among it (the next sweep reads whatever was stored)."""
    match = _INDEX.match(args.strip())
    return bounded_int(match.group(2), MAX_INDEX_DIGITS) if match else None
