"""The status page, /metrics and /healthz, after real traffic through the pipeline."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sms_gateway.config import from_dict
from sms_gateway.web.app import create_app
from storage.db import make_engine
from tests.conftest import NEIGHBOUR, OFFICER, RESIDENT, SAMARA_RESIDENT, STRANGER
from tests.test_web_support import CHANNEL, report_link, run_pipeline, send_replies

pytest_plugins = ["tests.test_web_support"]  # the console fixtures


@pytest.fixture
def traffic(engine, rules, clock, people):
    """A morning's worth: permits, refusals, an officer's check, replies sent and one failed,
    a request asked again once its answer had gone."""
    run_pipeline(engine, rules, clock, [(RESIDENT, "ВЫХОД 1"), (NEIGHBOUR, "выход 2"),
                                        (SAMARA_RESIDENT, "ВЫХОД 1"), (STRANGER, "ВЫХОД 1"),
                                        (OFFICER, "ПРОВЕРКА AAAA-AAAA")])
    send_replies(engine, clock, fail=1)  # the officer's, claimed first
    clock.advance(seconds=30)
    run_pipeline(engine, rules, clock, [(RESIDENT, "ВЫХОД 1")])
    send_replies(engine, clock)
    clock.advance(seconds=30)
    report_link(engine, clock(), up=True)
    report_link(engine, clock(), up=False, channel="smpp:mts")


def _metrics(text: str) -> dict[tuple[str, tuple], float]:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_status_page_shows_links_queues_permits_and_errors(console, traffic, clock):
    page = console.get("/")
    assert page.status_code == 200
    text = page.text
    assert 'http-equiv="refresh"' in text
    assert "▲ UP" in text and "modem:sim0" in text and "signal_dbm" in text
    assert "▼ DOWN" in text and "smpp:mts" in text
    assert "<polyline" in text
    assert "+CMS ERROR: 500" in text
    assert "+7937***0099" in text and re.search(r"\+7\d{10}", text) is None
    assert '<span class="ok">2</span> issued' in text
    assert '<span class="bad">2</span> refused' in text  # not in registry, district off


def test_a_link_that_stopped_reporting_is_not_shown_up(console, engine, clock, operator):
    report_link(engine, clock(), up=True)
    clock.advance(minutes=5)
    text = console.get("/").text
    assert "? STALE" in text and "▲ UP" not in text


def test_metrics_after_real_traffic(anonymous, traffic):
    response = anonymous.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    m = _metrics(response.text)
    assert m[("permit_gateway_database_up", ())] == 1
    handled = {labels: value for (name, labels), value in m.items()
               if name == "permit_gateway_messages_in_total"}
    assert handled[(("channel", CHANNEL), ("outcome", "issued"))] == 2
    assert handled[(("channel", CHANNEL), ("outcome", "repeated"))] == 1
    assert handled[(("channel", CHANNEL), ("outcome", "verified"))] == 1
    assert sum(handled.values()) == 6
    out = {dict(labels)["state"]: value for (name, labels), value in m.items()
           if name == "permit_gateway_messages_out"}
    assert out == {"sent": 5, "failed": 1}
    requests = {labels: value for (name, labels), value in m.items()
                if name == "permit_gateway_requests_total"}
    assert requests[(("kind", "issued"), ("reason", "1"))] == 1
    assert requests[(("kind", "issued"), ("reason", "2"))] == 1
    assert requests[(("kind", "district_off"), ("reason", "1"))] == 1
    assert requests[(("kind", "not_resident"), ("reason", "1"))] == 1
    assert m[("permit_gateway_verifications_total", (("outcome", "typo"),))] == 1
    assert m[("permit_gateway_queue_depth", (("queue", "outbox"), ("state", "pending")))] == 0
    assert m[("permit_gateway_handling_latency_seconds_count", ())] == 6
    assert m[("permit_gateway_handling_latency_seconds_bucket", (("le", "0.05"),))] == 6
    links = {dict(labels)["channel"]: value for (name, labels), value in m.items()
             if name == "permit_gateway_link_up"}
    assert links == {CHANNEL: 1, "smpp:mts": 0}


def test_waiting_messages_show_in_depth_and_age(anonymous, engine, rules, clock, people):
    from sms_gateway.pipeline.inbox import Inbox
    from sms_gateway.transport import InboundPart

    Inbox(engine, clock=clock).store([InboundPart(CHANNEL, RESIDENT, "ВЫХОД 1", clock())])
    clock.advance(seconds=42)
    m = _metrics(anonymous.get("/metrics").text)
    assert m[("permit_gateway_queue_depth", (("queue", "inbox"), ("state", "new")))] == 1
    assert m[("permit_gateway_queue_oldest_age_seconds", (("queue", "inbox"),))] == 42


def test_an_outage_shows_how_long_each_link_is_down_and_how_many_replies_wait_for_it(
        console, anonymous, engine, rules, clock, people):
    went_down = clock()
    run_pipeline(engine, rules, clock, [(RESIDENT, "ВЫХОД 1"), (NEIGHBOUR, "выход 2")],
                 channel="smpp:mts")
    run_pipeline(engine, rules, clock, [(RESIDENT, "ВЫХОД 1")], channel="smpp:mts")  # again
    clock.advance(seconds=180)
    report_link(engine, clock())
    report_link(engine, clock(), up=False, channel="smpp:mts", down_since=went_down)
    m = _metrics(anonymous.get("/metrics").text)
    down = {dict(labels)["channel"]: value for (name, labels), value in m.items()
            if name == "permit_gateway_link_down_seconds"}
    waiting = {dict(labels)["channel"]: value for (name, labels), value in m.items()
               if name == "permit_gateway_replies_waiting"}
    assert down == {"smpp:mts": 180, CHANNEL: 0}
    assert waiting == {"smpp:mts": 2, CHANNEL: 0}
    assert m[("permit_gateway_messages_in_total",
              (("channel", "smpp:mts"), ("outcome", "duplicate")))] == 1
    text = console.get("/").text
    assert "down for 3 min · 2 replies waiting" in text and "0 replies waiting" in text


def test_counts_start_again_at_local_midnight(anonymous, traffic, clock):
    clock.set_local("Europe/Samara", 2026, 11, 26, 0, 5)
    m = _metrics(anonymous.get("/metrics").text)
    assert not [k for k in m if k[0] == "permit_gateway_requests_total"]
    assert m[("permit_gateway_handling_latency_seconds_count", ())] == 0


def test_healthz_reports_the_database_and_links(anonymous, engine, clock):
    report_link(engine, clock())
    response = anonymous.get("/healthz")
    assert response.status_code == 200
    assert response.json["database"] == "ok"
    assert response.json["links"][0]["channel"] == CHANNEL
    assert response.json["links"][0]["up"] is True


def test_healthz_and_metrics_when_the_database_is_gone(clock, tmp_path):
    config = from_dict({"service": {"data_dir": str(tmp_path)}}, base=tmp_path)
    unreachable = make_engine("postgresql://nobody@127.0.0.1:1/none")  # nothing listens on 1
    client = create_app(config, unreachable, clock=clock).test_client()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json == {"database": "unreachable", "links": []}
    assert "permit_gateway_database_up 0.0" in client.get("/metrics").text


def test_the_chart_covers_three_hours_of_minutes(console, engine, rules, clock, people):
    start = clock()
    for minutes in (0, 60, 190):
        clock.now = start + dt.timedelta(minutes=minutes)
        run_pipeline(engine, rules, clock, [(RESIDENT, "СТАТУС")])
    text = console.get("/").text
    points = text.split('class="in" points="')[1].split('"')[0].split()
    assert len(points) == 180
    assert sum(1 for p in points if float(p.split(",")[1]) < 100) == 2  # two of three in range


def test_status_page_without_any_data(console):
    text = console.get("/").text
    assert "No link has reported yet." in text
    assert "No failed or retried replies." in text


def test_the_status_page_lists_nodes_by_their_heartbeat(console, config, engine, clock):
    from sms_gateway.gateway import Gateway
    from sms_gateway.loopback import LoopbackTransport

    gateway = Gateway(config, engine, [LoopbackTransport("lb")], node="kinel-node-1",
                      clock=clock)
    gateway.maintenance.heartbeat()
    page = console.get("/").text
    assert "kinel-node-1" in page and "loopback:lb" in page and "▲" in page
