"""`permit-gateway simulate`: one message through the same inbox and dispatcher a transport uses."""

from __future__ import annotations

import time
import uuid

from sqlalchemy import Engine, select, update

from permits.service import Rules
from sms_gateway.clock import Clock, utc_now
from sms_gateway.pipeline.dispatcher import Dispatcher
from sms_gateway.pipeline.inbox import Inbox
from sms_gateway.transport import InboundPart
from storage.tables.messages import inbox, outbox

CHANNEL = "loopback:simulate"


def simulate(engine: Engine, rules: Rules, sender: str, text: str, *,
             clock: Clock = utc_now, timeout: float = 60.0) -> list[str]:
    """Store, dispatch and 'send' one message; returns the reply texts in order."""
    key = f"simulate:{uuid.uuid4()}"
    Inbox(engine, clock=clock).store([InboundPart(CHANNEL, sender, text, clock(),
                                                  dedup_key=key)])
    dispatcher = Dispatcher(engine, rules, batch_size=50, clock=clock)
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as conn:
            row = conn.execute(select(inbox.c.id, inbox.c.state)
                               .where(inbox.c.dedup_key == key)).one()
        if row.state == "done":
            break
        if time.monotonic() > deadline:
            raise TimeoutError("the message was stored but not handled in time")
        if not dispatcher.run_once().messages:
            time.sleep(0.01)  # another process holds our row in its batch
    with engine.begin() as conn:
        replies = conn.execute(select(outbox.c.id, outbox.c.text)
                               .where(outbox.c.inbox_id == row.id, outbox.c.state == "pending")
                               .order_by(outbox.c.id)).all()
        conn.execute(update(outbox).where(outbox.c.id.in_([r.id for r in replies]))
                     .values(state="sent", updated_at=clock(), sent_at=clock(), attempts=1))
    return [r.text for r in replies]
