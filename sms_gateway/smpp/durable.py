"""The durability rule for deliver_sm: commit first, acknowledge after, refuse on failure.

Everything received since the last commit (`committer.Committer` groups it) is stored with one
call (one transaction, one fsync) and answered with one write; a batch the sink could not
commit is answered ESME_RX_T_APPN, so the SMSC delivers it again rather than believing we
have it. What the sink quarantined instead of storing counts as stored (ESME_ROK): delivered
again, it would only meet the same refusal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from sms_gateway.smpp.constants import Status
from sms_gateway.smpp.events import Received
from sms_gateway.transport import DeliveryReceipt, InboundPart, InboundSink, StoreError, Unreadable

log = logging.getLogger(__name__)
_KINDS = (InboundPart, DeliveryReceipt, Unreadable)


def store_and_acknowledge(
    sink: InboundSink, received: Sequence[Received]
) -> list[tuple[int, list[int]]]:
    """Store as `store` does; the status to answer each kind's group with."""
    statuses = store(sink, received)
    answers = []
    for kind in _KINDS:
        group = [i for i, event in enumerate(received) if isinstance(event.item, kind)]
        if group:
            answers.append((statuses[group[0]], [received[i].sequence for i in group]))
    return answers


def store(sink: InboundSink, received: Sequence[Received]) -> list[int]:
    """Store parts, receipts and what could not be decoded (one call each); the status owed to
    each event, in order."""
    statuses = [Status.OK] * len(received)
    for kind, commit in zip(_KINDS, (sink.store, sink.receipts, sink.set_aside), strict=True):
        indexes = [i for i, event in enumerate(received) if isinstance(event.item, kind)]
        if indexes:
            status = _commit(commit, [received[i].item for i in indexes])
            for i in indexes:
                statuses[i] = status
    return statuses


def _commit(store: Callable[[list], None], items: list) -> int:
    try:
        store(items)
    except StoreError as exc:
        # The inbox logs an outage once; per batch this is detail.
        log.debug("smpp: %d inbound items not stored, SMSC will redeliver: %s", len(items), exc)
        return Status.TEMPORARY_APP_ERROR
    except Exception:  # a failing sink must not take the link down: the SMSC redelivers
        log.exception("smpp: sink failed on %d inbound items", len(items))
        return Status.TEMPORARY_APP_ERROR
    return Status.OK
