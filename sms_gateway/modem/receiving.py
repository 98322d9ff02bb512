"""Inbound work of a modem: SIM sweeps and notifications, delete only after the commit.

Parts read together are stored together (one `sink.store`, one transaction), then deleted
from the SIM one by one; notifications that queued up together (the +CMTI of a long SMS's
parts, or of a burst that arrived during a send) are read and stored together too.  A failed
store leaves them on the SIM: the next sweep finds them again, and their dedup keys make a
second store harmless.  Status reports become receipts of whole messages through the modem's
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
from sms_gateway.modem.commands import ModemCommands, StoredMessage
from sms_gateway.modem.inbound import to_part, to_receipt
from sms_gateway.modem.receipts import ReceiptBook
from sms_gateway.transport import DeliveryReceipt, InboundPart, InboundSink, StoreError

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
        self._undecodable: set[str] = set()

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
        done: list[int] = []
        for message in messages:
            decoded = self._decode(message)
            if isinstance(decoded, pdu.Deliver):
                parts.append(to_part(self.channel, decoded, now))
            elif isinstance(decoded, pdu.StatusReport):
                receipt = to_receipt(self.channel, self.book, decoded)
                if receipt is not None:
                    receipts.append(receipt)
            else:
                continue  # undecodable, or an SMS-SUBMIT someone stored: not ours to consume
            done.append(message.index)
        try:
            if parts:
                self.sink.store(parts)
            if receipts:
                self.sink.receipts(receipts)
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

    def _decode(self, message: StoredMessage) -> pdu.Deliver | pdu.StatusReport | pdu.Submit | None:
        try:
            return pdu.decode_any(message.pdu)
        except CodecError as exc:
            if message.pdu not in self._undecodable:
                self._undecodable.add(message.pdu)
                log.error(
                    "modem %s: SIM index %d undecodable, left on the SIM: %s",
                    self.modem,
                    message.index,
                    exc,
                )
            return None


def _storage_index(args: str) -> int | None:
    """`"SM",3` -> 3 (the memory is the one AT+CPMS selected)."""
    match = _INDEX.match(args.strip())
    return int(match.group(2)) if match else None
