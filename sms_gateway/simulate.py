"""`permit-gateway simulate`: one message through the same inbox and dispatcher a transport uses."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from sqlalchemy import Engine, select, update

from permits.service import Rules
from sms_gateway.clock import Clock, utc_now
from sms_gateway.config import Config
from sms_gateway.pipeline.dispatcher import Dispatcher
from sms_gateway.pipeline.inbox import Inbox
from sms_gateway.transport import InboundPart
from sms_gateway.ussd.sessions import UssdSessions
from storage.tables.messages import InboxState, OutboxState, inbox, outbox

CHANNEL = "loopback:simulate"


class Quarantined(Exception):
    """The message was not stored for handling but quarantined (the reason is the message)."""


@dataclass(frozen=True)
class Simulated:
    """What became of the message: the rules' outcome and the reply texts, in order."""

    outcome: str
    replies: list[str]


def simulate(engine: Engine, config: Config, sender: str, text: str, *,
             clock: Clock = utc_now, timeout: float = 60.0) -> Simulated:
    """Store, dispatch and 'send' one message. Raises Quarantined when the inbox would not
    take it, as it would not from a transport."""
    key = f"simulate:{uuid.uuid4()}"
    refused = Inbox(engine, clock=clock).store([InboundPart(CHANNEL, sender, text, clock(),
                                                            dedup_key=key)])
    if refused:
        raise Quarantined(refused[0].why)
    rules = Rules(config.rules)
    dispatcher = Dispatcher(engine, rules, ussd=UssdSessions.configured(rules, config.ussd),
                            batch_size=50, clock=clock)
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as conn:
            row = conn.execute(select(inbox.c.id, inbox.c.state, inbox.c.outcome)
                               .where(inbox.c.dedup_key == key)).one()
        if row.state == InboxState.DONE:
            break
        if time.monotonic() > deadline:
            raise TimeoutError("the message was stored but not handled in time")
        if not dispatcher.run_once().messages:
            time.sleep(0.01)  # another process holds our row in its batch
    with engine.begin() as conn:
        replies = conn.execute(select(outbox.c.id, outbox.c.text)
                               .where(outbox.c.inbox_id == row.id,
                                      outbox.c.state == OutboxState.PENDING)
                               .order_by(outbox.c.id)).all()
        conn.execute(update(outbox).where(outbox.c.id.in_([r.id for r in replies]))
                     .values(state=OutboxState.SENT, updated_at=clock(), sent_at=clock(),
                             attempts=1))
    return Simulated(row.outcome or "", [r.text for r in replies])
