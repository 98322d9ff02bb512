"""Prometheus figures computed from the database at scrape time, so any node answers the same.

Counts run from local midnight: at midnight they start again from zero, which Prometheus
treats as a counter reset (rate() and increase() stay right).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from sqlalchemy.exc import SQLAlchemyError

from sms_gateway.pipeline import quarantine
from sms_gateway.web import figures, links_and_nodes
from sms_gateway.web.context import Services
from storage.db import READ_ONLY

log = logging.getLogger(__name__)
PREFIX = "permit_gateway_"
LATENCY_BOUNDS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class LedgerCollector:
    """A custom collector: no state of its own, one read transaction per scrape."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(PREFIX + "database_up", "1 if the database answered this scrape")
        try:
            metrics = self._read()
        except SQLAlchemyError as exc:
            log.warning("metrics: database unreachable: %s", exc.__class__.__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from metrics

    def _read(self) -> list[Metric]:
        svc = self.services
        now = svc.clock()
        since = svc.day_start(now)
        with svc.engine.connect().execution_options(**READ_ONLY) as conn, conn.begin():
            return [
                _labelled(CounterMetricFamily, "messages_in", "Inbound messages decided since"
                          " local midnight, by channel and the rules' outcome",
                          ["channel", "outcome"], figures.inbox_handled(conn, since)),
                _labelled(GaugeMetricFamily, "messages_out", "Replies that reached a final"
                          " state since local midnight, by channel and state",
                          ["channel", "state"], figures.outbox_finished(conn, since)),
                _queue_depths(figures.queue_depths(conn)),
                _oldest(figures.oldest_waiting(conn, now)),
                _requests(figures.day_outcomes(conn, svc.rules.local_day(now))),
                _labelled(CounterMetricFamily, "verifications", "Officers' permit checks since"
                          " local midnight, by outcome", ["outcome"],
                          sorted(figures.verification_outcomes(conn, since).items())),
                _latency(figures.handling_latency(conn, since, LATENCY_BOUNDS)),
                _links(links_and_nodes.links(conn, now)),
                _heartbeats(links_and_nodes.nodes(conn, now)),
                _labelled(GaugeMetricFamily, "quarantined_messages", "Inbound messages,"
                          " receipts and undecodable PDUs held in the quarantine, by channel",
                          ["channel"], quarantine.held_by_channel(conn)),
                *_outages(links_and_nodes.channels_down(conn, now), figures.replies_waiting(conn)),
            ]


def _labelled(family: type, name: str, documentation: str, labels: list[str],
              rows: list[tuple]) -> Metric:
    metric = family(PREFIX + name, documentation, labels=labels)
    for *values, count in rows:
        metric.add_metric([str(v) for v in values], count)
    return metric


def _queue_depths(depths: dict[str, dict[str, int]]) -> Metric:
    return _labelled(GaugeMetricFamily, "queue_depth", "Messages waiting, by queue and state",
                     ["queue", "state"], [(queue, state, count) for queue, states in
                                          depths.items() for state, count in states.items()])


def _oldest(ages: dict[str, float | None]) -> Metric:
    return _labelled(GaugeMetricFamily, "queue_oldest_age_seconds", "Age of the oldest waiting"
                     " message (0 when the queue is empty)", ["queue"],
                     [(queue, age or 0.0) for queue, age in ages.items()])


def _requests(day: figures.DayOutcomes) -> Metric:
    totals: dict[tuple[str, str], int] = {}
    for kind, _district, reason, count in day.rows:
        key = (kind, "" if reason is None else str(reason))
        totals[key] = totals.get(key, 0) + count
    return _labelled(CounterMetricFamily, "requests", "Requests decided since local midnight, by"
                     " outcome kind (issued, quota, not_resident, registry_only, exempt,"
                     " repeated, ...) and reason number", ["kind", "reason"],
                     [(*key, count) for key, count in sorted(totals.items())])


def _latency(latency: figures.Latency) -> Metric:
    buckets = [(str(bound), count) for bound, count in latency.buckets]
    buckets.append(("+Inf", latency.count))
    metric = HistogramMetricFamily(PREFIX + "handling_latency_seconds", "From storing an"
                                   " inbound message to deciding it, since local midnight")
    metric.add_metric([], buckets, sum_value=latency.total_seconds)
    return metric


def _outages(down: dict[str, float], waiting: dict[str, int]) -> list[Metric]:
    """Per channel (over every node): how long it has been down, how many replies wait for
    it. Every known channel is listed, 0 when up or idle, so an alert sees it either way."""
    channels = sorted(set(down) | set(waiting))
    return [
        _labelled(GaugeMetricFamily, "link_down_seconds", "Seconds since any node last had the"
                  " channel up (0 while one has it up)", ["channel"],
                  [(channel, down.get(channel, 0.0)) for channel in channels]),
        _labelled(GaugeMetricFamily, "replies_waiting", "Replies pending or being sent, by the"
                  " channel they wait for", ["channel"],
                  [(channel, waiting.get(channel, 0)) for channel in channels]),
    ]


def _links(links: list[links_and_nodes.Link]) -> Metric:
    return _labelled(GaugeMetricFamily, "link_up", "1 if the link reported up within the last"
                     " minute", ["channel", "node", "kind"],
                     [(link.channel, link.node, link.kind, int(link.healthy)) for link in links])


def _heartbeats(nodes: list[links_and_nodes.Node]) -> Metric:
    """Per node, so an alert can name the one that went silent (a dead node cannot say so)."""
    return _labelled(GaugeMetricFamily, "node_heartbeat_age_seconds", "Seconds since the node"
                     " last wrote its heartbeat", ["node"],
                     [(node.name, node.heartbeat_age_seconds) for node in nodes])
