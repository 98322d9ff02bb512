"""A request sent again before its answer left is answered once.

An SMSC that never got our deliver_sm_resp (the link dropped after we had committed) delivers
the message again, and SMPP gives a delivery no identity to deduplicate by. The rules make the
copy harmless ("already valid", nothing spent) but would still answer it: one more SMS per
copy, thousands when a link flaps during a flood. So a message whose sender sent the identical
text before, and whose reply to that had not left when the copy arrived (still pending or
sending, or taken by the network only after the copy's arrival), gets no reply of its own:
it is marked `duplicate`. Identical messages in one batch count too. Once the reply has gone
(or its permit has expired, so it never will), asking again is a new request, as always.

One query per batch, over the outbox's (recipient, created_at) index: replies created within
`HORIZON` (a reply still waiting after a day is past caring about).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Connection, Row, or_, select

from storage.dialect import among
from storage.tables.messages import OutboxState, inbox, outbox

DUPLICATE = "duplicate"
HORIZON = dt.timedelta(days=1)
_QUEUED = (OutboxState.PENDING, OutboxState.SENDING)


def repeated(conn: Connection, rows: Sequence[Row], now: dt.datetime) -> set[int]:
    """The inbox ids among `rows` (id, sender, text, received_at) that repeat a request whose
    reply had not left when they arrived, or an earlier message of the same batch."""
    if not rows:
        return set()
    earliest = min(row.received_at for row in rows)
    earlier = conn.execute(
        select(inbox.c.sender, inbox.c.text, inbox.c.id, outbox.c.state, outbox.c.sent_at,
               outbox.c.expires_at)
        .join(inbox, inbox.c.id == outbox.c.inbox_id)
        .where(among(conn.dialect, outbox.c.recipient, {row.sender for row in rows}),
               outbox.c.created_at >= now - HORIZON, outbox.c.ussd_op.is_(None),
               or_(outbox.c.state.in_(_QUEUED), outbox.c.sent_at >= earliest))).all()
    # (sender, text) -> (the first request's inbox id, until when its reply was waiting)
    answers: dict[tuple[str, str], list[tuple[int, dt.datetime | None]]] = {}
    for sender, text, first, state, sent_at, expires_at in earlier:
        waiting_until = (expires_at if state in _QUEUED else sent_at)  # None: still, for good
        answers.setdefault((sender, text), []).append((first, waiting_until))
    found: set[int] = set()
    seen: set[tuple[str, str]] = set()
    for row in rows:
        key = (row.sender, row.text)
        if key in seen or any(first < row.id and (until is None or until >= row.received_at)
                              for first, until in answers.get(key, ())):
            found.add(row.id)
        seen.add(key)
    return found
