"""The status page, /metrics and /healthz, after real traffic through the pipeline."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from sms_gateway.config import from_dict
from sms_gateway.web.app import create_app
from storage.db import make_engine
from tests.conftest import NEIGHBOUR, OFFICER, RESIDENT, SAMARA_RESIDENT, STRANGER
from tests.web_support import CHANNEL, report_link, run_pipeline, send_replies

pytest_plugins = ["tests.web_support"]  # the console fixtures


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
    assert "▲ up" in text and "modem:sim0" in text
    assert "▼ down" in text and "smpp:mts" in text
    assert "<polyline" in text
    assert "+CMS ERROR: 500" in text
    assert "+7937***0099" in text and re.search(r"\+7\d{10}", text) is None
    assert '<span class="ok">2 issued</span>' in text
    assert '<span class="bad">2 refused</span>' in text  # not in registry, district off


def test_each_modem_of_a_pool_has_its_own_card(console, engine, clock, operator):
    from sms_gateway.modem.snapshot import LinkState, ModemStatus

    moment = clock()
    working = ModemStatus("sim0", LinkState.UP, signal_rssi=20, registration=1,
                          network="MegaFon", sim_used=3, sim_total=30, last_seen=moment,
                          model="SIMCOM SIM800", sent=41)
    full = ModemStatus("sim1", LinkState.UP, signal_rssi=6, registration=5, network="MTS",
                       sim_used=30, sim_total=30, last_seen=moment,
                       error="+CMS ERROR: 322")
    silent = ModemStatus("sim2", LinkState.DOWN, error="port lost")
    report_link(engine, moment, details={"healthy": 2, "total": 3, "modems": {
        m.name: m.details(moment) for m in (working, full, silent)}})
    text = " ".join(console.get("/").text.split())
    cards = dict(re.findall(r'data-modem="(sim\d)">(.*?)</li>', text))
    assert set(cards) == {"sim0", "sim1", "sim2"}
    assert "-73 dBm, excellent" in cards["sim0"] and "home network, MegaFon" in cards["sim0"]
    assert "3 of 30" in cards["sim0"] and "41 sent" in cards["sim0"]
    assert "-101 dBm, poor" in cards["sim1"] and "roaming, MTS" in cards["sim1"]
    assert "30 of 30" in cards["sim1"] and "full" in cards["sim1"]
    assert "+CMS ERROR: 322" in cards["sim1"]
    assert "▼ sim2" in cards["sim2"] and "reconnecting" in cards["sim2"]
    assert "port lost" in cards["sim2"]


def test_an_smpp_link_shows_its_window_and_throughput(console, engine, rules, clock, people):
    run_pipeline(engine, rules, clock, [(RESIDENT, "ВЫХОД 1"), (NEIGHBOUR, "ВЫХОД 2")],
                 channel="smpp:mts")
    send_replies(engine, clock, channel="smpp:mts")
    report_link(engine, clock(), channel="smpp:mts", kind="smpp", details={
        "bind_state": "transceiver:bound", "window_in_use": 3, "window": 10, "queued": 7,
        "reconnects": 1, "last_enquire_link": clock().isoformat(), "last_error": None})
    text = " ".join(console.get("/").text.split())
    card = re.search(r'data-channel="smpp:mts">(.*?)</li>', text).group(1)
    assert "3 of 10 in flight" in card and 'value="3"' in card
    assert "transceiver:bound" in card
    assert "last 5 min: 0.4 in, 0.4 out" in card  # two each in five minutes


def test_replies_that_never_left_the_machine_are_not_sent(console, config, engine, rules,
                                                          clock, people):
    from sms_gateway.simulate import simulate

    for text in ("ВЫХОД 1", "СТАТУС", "ПОМОЩЬ"):
        simulate(engine, config, RESIDENT, text, clock=clock)
    run_pipeline(engine, rules, clock, [(NEIGHBOUR, "ВЫХОД 1")])
    send_replies(engine, clock)
    _receipt(engine, clock, "DELIVRD")
    page = console.get("/").text
    assert re.search(r'id="replies-sent">1<', page)
    assert re.search(r'id="replies-delivered">1<', page)
    assert re.search(r'id="replies-local">3<', page)


def test_delivered_never_exceeds_sent(console, engine, rules, clock, people):
    run_pipeline(engine, rules, clock, [(RESIDENT, "ВЫХОД 1"), (NEIGHBOUR, "ВЫХОД 1")])
    send_replies(engine, clock)
    _receipt(engine, clock, "DELIVRD", "UNDELIV")
    page = console.get("/").text
    assert re.search(r'id="replies-sent">2<', page)  # one delivered, one undeliverable
    assert re.search(r'id="replies-delivered">1<', page)


def _receipt(engine, clock, *states: str) -> None:
    """Delivery receipts for the replies sent so far, oldest first, through the outbox."""
    from sms_gateway.pipeline import outbox as outbox_queue
    from sms_gateway.transport import DeliveryReceipt
    from storage.tables.messages import outbox

    with engine.begin() as conn:
        ids = conn.scalars(select(outbox.c.transport_message_id)
                           .where(outbox.c.transport_message_id.is_not(None))
                           .order_by(outbox.c.id)).all()
        receipts = [DeliveryReceipt(CHANNEL, mid, state)
                    for mid, state in zip(ids, states, strict=True)]
        outbox_queue.apply_receipts(conn, receipts, clock())


def test_reasons_are_listed_by_number(console, engine, rules, clock, people):
    run_pipeline(engine, rules, clock, [(RESIDENT, "ВЫХОД 10"), (NEIGHBOUR, "ВЫХОД 2"),
                                        (SAMARA_RESIDENT, "ВЫХОД 11"), (STRANGER, "ВЫХОД 1")])
    table = console.get("/").text.split('id="reasons"')[1].split("</table>")[0]
    assert re.findall(r"<td>(\d+) ", table) == ["1", "2", "10", "11"]


def test_a_link_that_stopped_reporting_is_not_shown_up(console, engine, clock, operator):
    report_link(engine, clock(), up=True)
    clock.advance(minutes=5)
    text = console.get("/").text
    assert "? no recent report" in text and "▲ up" not in text


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


def test_metrics_say_how_long_each_node_has_been_silent(anonymous, config, engine, clock):
    from sms_gateway.gateway import Gateway
    from sms_gateway.loopback import LoopbackTransport

    for node in ("kinel-node-1", "kinel-node-2"):
        Gateway(config, engine, [LoopbackTransport("lb")], node=node,
                clock=clock).maintenance.heartbeat()
        clock.advance(seconds=90)
    m = _metrics(anonymous.get("/metrics").text)
    assert m[("permit_gateway_node_heartbeat_age_seconds", (("node", "kinel-node-1"),))] == 180
    assert m[("permit_gateway_node_heartbeat_age_seconds", (("node", "kinel-node-2"),))] == 90


def test_the_reply_cap_shows_on_the_status_page_and_in_metrics(console, anonymous, config,
                                                               engine, rules, clock, people):
    limit = rules.settings.replies_per_hour
    run_pipeline(engine, rules, clock, [(RESIDENT, f"СТАТУС {n}") for n in range(limit + 2)])
    card = console.get("/").text.split('id="capped"')[1].split("</span>")[0]
    assert card.startswith(' class="bad">') and card.endswith(": 2")
    assert re.search(r'permit_gateway_requests_total\{kind="capped",reason=""\} 2\.0',
                     anonymous.get("/metrics").text)
