"""Replies waiting on a link that is down everywhere move to a healthy one.

Only after the link has been down `reroute_after_seconds` (a flap moves nothing), spread over
the healthy links of its kind, officers' replies and the oldest first. With
`fallback_to_modem`, SMPP replies move to a healthy modem pool when no SMPP link is up, a few
at a time (`FALLBACK_BACKLOG` waiting per pool): a modem sends an SMS every few seconds, and
whatever sits in its queue when the SMSC returns stays there. USSD replies never leave SMPP.
Replies for a channel no node reports any more (a link taken out of the configuration) move
once they are `reroute_after_seconds` old.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from sqlalchemy import Connection, bindparam, func, select, update

from sms_gateway.link_health import ChannelState
from storage.tables.messages import OutboxState, outbox

FALLBACK_KIND, FALLBACK_FROM = "modem", "smpp"
# Replies waiting on each fallback pool at most: about a minute of a few modems' work, topped
# up by every maintenance run (every 5 s).
FALLBACK_BACKLOG = 20
LIMIT = 1000  # rows moved off one channel per run


def reroute(conn: Connection, states: Mapping[str, ChannelState], now: dt.datetime,
            after: dt.timedelta, fallback_to_modem: bool = False) -> int:
    """Move what waits on channels down for `after` or longer; how many replies moved."""
    healthy: dict[str, list[str]] = {}
    for state in states.values():
        if state.down_since is None:
            healthy.setdefault(state.kind, []).append(state.channel)
    waiting = conn.scalars(select(outbox.c.channel).where(outbox.c.state == OutboxState.PENDING)
                           .distinct()).all()
    moved = 0
    for channel in waiting:
        state = states.get(channel)
        if state is not None and state.down_for(now) < after:
            continue  # up somewhere, or not down long enough
        kind = channel.split(":", 1)[0]
        targets = sorted(healthy.get(kind, ()))
        if targets:
            moved += _move(conn, channel, targets, now, LIMIT, older=state is None, after=after)
        elif fallback_to_modem and kind == FALLBACK_FROM and healthy.get(FALLBACK_KIND):
            modems = sorted(healthy[FALLBACK_KIND])
            room = FALLBACK_BACKLOG * len(modems) - _pending(conn, modems)
            if room > 0:
                moved += _move(conn, channel, modems, now, room, older=state is None,
                               after=after, sms_only=True)
    return moved


def _move(conn: Connection, channel: str, targets: Sequence[str], now: dt.datetime,
          limit: int, *, older: bool, after: dt.timedelta, sms_only: bool = False) -> int:
    query = select(outbox.c.id).where(outbox.c.state == OutboxState.PENDING,
                                      outbox.c.channel == channel)
    if older:
        query = query.where(outbox.c.created_at < now - after)
    if sms_only:
        query = query.where(outbox.c.ussd_op.is_(None))
    ids = conn.scalars(query.order_by(outbox.c.priority.desc(), outbox.c.next_attempt_at)
                       .limit(limit)).all()
    if ids:
        conn.execute(update(outbox).where(outbox.c.id == bindparam("row_id"),
                                          outbox.c.state == OutboxState.PENDING)
                     .values(channel=bindparam("to"), updated_at=now),
                     [{"row_id": row_id, "to": targets[n % len(targets)]}
                      for n, row_id in enumerate(ids)])
    return len(ids)


def _pending(conn: Connection, channels: Sequence[str]) -> int:
    return conn.scalar(select(func.count()).select_from(outbox).where(
        outbox.c.state == OutboxState.PENDING, outbox.c.channel.in_(list(channels)))) or 0
