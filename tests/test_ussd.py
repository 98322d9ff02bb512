"""Police verification by USSD: the menu itself, over SMPP (our simulator and npm's `smpp`),
and over HTTP in the aggregators' convention."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import Flask
from sqlalchemy import select, update

from permits import codes
from permits.ussd_menu import UssdMenu, dialled_inputs
from sms_gateway.config import UssdSettings
from sms_gateway.gateway import Gateway
from sms_gateway.smpp.transport import SmppTransport
from sms_gateway.ussd.http import blueprint
from sms_gateway.web.proxy import ProxyAware
from storage.tables.ledger import permits, verifications
from tests.conftest import NEIGHBOUR, OFFICER, RESIDENT, STRANGER
from tools.simsmsc.kit import local_settings
from tools.simsmsc.simulator import SimSmsc
from tools.waiting import wait_for

CODE = re.compile(r"[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}")


@pytest.fixture
def menu(rules):
    return UssdMenu(rules, "*377#")


@pytest.fixture
def permit_code(send) -> str:
    return CODE.search(send(RESIDENT, "ВЫХОД аптека").replies[0].text).group()


def respond(engine, menu, clock, phone, inputs):
    with engine.begin() as conn:
        return menu.respond(conn, phone, inputs, "test:ussd", clock())


def test_dialled_strings_are_split_into_inputs():
    assert dialled_inputs("*377#", "*377#") == []
    assert dialled_inputs("*377*K7MQ3DXA#", "*377#") == ["K7MQ3DXA"]
    assert dialled_inputs("*100#", "*377#") is None
    assert dialled_inputs("garbage!!", "*377#") is None


def test_officer_is_asked_for_the_code_then_answered(engine, menu, clock, permit_code):
    ask = respond(engine, menu, clock, OFFICER, [])
    assert not ask.final and "код" in ask.text
    answer = respond(engine, menu, clock, OFFICER, [permit_code.replace("-", "")])
    assert answer.final and answer.text.startswith("ДЕЙСТВУЕТ") and len(answer.text) <= 80


def test_officer_dialling_the_code_is_answered_at_once(engine, menu, clock, permit_code):
    inputs = dialled_inputs(f"*377*{permit_code.replace('-', '')}#", "*377#")
    assert respond(engine, menu, clock, OFFICER, inputs).text.startswith("ДЕЙСТВУЕТ")


def test_keypad_digits_matching_one_valid_permit_are_answered(engine, menu, clock, permit_code):
    digits = codes.keypad(permit_code.replace("-", ""))
    answer = respond(engine, menu, clock, OFFICER, [digits])
    assert answer.final and answer.text.startswith("ДЕЙСТВУЕТ") and "+7927***0001" in answer.text


def test_keypad_digits_matching_several_permits_ask_for_letters(engine, menu, clock, send,
                                                                 permit_code):
    send(NEIGHBOUR, "ВЫХОД 1")
    digits = codes.keypad(permit_code.replace("-", ""))
    with engine.begin() as conn:
        conn.execute(update(permits).values(keypad=digits))
    answer = respond(engine, menu, clock, OFFICER, [digits])
    assert not answer.final and "буквами" in answer.text


def test_a_ussd_check_is_recorded_like_an_sms_check(engine, menu, clock, permit_code):
    respond(engine, menu, clock, OFFICER, [codes.display(codes.generate())])
    with engine.connect() as conn:
        assert conn.scalar(select(verifications.c.outcome)) == "unknown"


def test_a_resident_gets_their_own_permit_and_what_is_left(engine, menu, clock, permit_code):
    answer = respond(engine, menu, clock, RESIDENT, [])
    assert answer.final and permit_code in answer.text and "Осталось сегодня: 1" in answer.text


def test_anyone_else_learns_how_to_ask_and_nothing_about_permits(engine, menu, clock,
                                                                 permit_code):
    for inputs in ([], [permit_code]):
        answer = respond(engine, menu, clock, STRANGER, inputs)
        assert answer.final and "ВЫХОД" in answer.text and permit_code not in answer.text
    assert respond(engine, menu, clock, "MTS", []).final


def test_every_screen_fits_one_ussd_screen(engine, menu, clock, send, permit_code):
    screens = [respond(engine, menu, clock, phone, inputs) for phone, inputs in [
        (OFFICER, []), (OFFICER, [permit_code]), (OFFICER, ["12345678"]), (OFFICER, ["x"]),
        (RESIDENT, []), (STRANGER, []), (NEIGHBOUR, [])]]
    screens.append(menu.session_expired())
    assert all(len(s.text) <= 80 for s in screens), [s.text for s in screens]


# -- over SMPP, through the whole pipeline ------------------------------------------------------


@pytest.fixture
def smsc():
    with SimSmsc() as smsc:
        yield smsc


@pytest.fixture
def smpp_gateway(config, engine, people, smsc):
    transport = SmppTransport(local_settings(smsc.port))
    gateway = Gateway(config, engine, [transport])
    gateway.start()
    wait_for(lambda: transport.health().up)
    yield gateway
    gateway.stop()


def _submits(smsc, count):
    wait_for(lambda: len(smsc.submits) >= count, timeout=20)
    return smsc.submits


def test_officer_session_over_smpp_ask_then_answer(smpp_gateway, smsc, send, engine, clock):
    clock.now = dt.datetime.now(dt.UTC)  # the gateway runs on real time
    code = CODE.search(send(RESIDENT, "ВЫХОД 1").replies[0].text).group()
    smsc.inject(OFFICER, "*377#", ussd_op=1, ussd_session="0a01")
    [ask] = _submits(smsc, 1)
    assert ask.ussd_op == 2 and ask.ussd_session == "0a01" and ask.to.endswith("79370000099")
    smsc.inject(OFFICER, code, ussd_op=18, ussd_session="0a01")
    answer = _submits(smsc, 2)[1]
    assert answer.ussd_op == 17 and answer.text.startswith("ДЕЙСТВУЕТ")


def test_an_answer_after_the_session_expired_says_so(config, engine, people, smsc, clock):
    clock.now = dt.datetime.now(dt.UTC)  # the transport itself drops replies already expired
    transport = SmppTransport(local_settings(smsc.port))
    gateway = Gateway(config, engine, [transport], clock=clock)
    gateway.start()
    try:
        wait_for(lambda: transport.health().up)
        smsc.inject(OFFICER, "*377#", ussd_op=1, ussd_session="0b02")
        _submits(smsc, 1)
        clock.advance(seconds=config.ussd.session_seconds + 1)
        smsc.inject(OFFICER, "K7MQ3DXA", ussd_op=18, ussd_session="0b02")
        expired = _submits(smsc, 2)[1]
        assert expired.ussd_op == 17 and "истёк" in expired.text
    finally:
        gateway.stop()


def test_officer_dials_the_code_directly_over_the_npm_smpp_peer(config, engine, people, send,
                                                                 clock):
    clock.now = dt.datetime.now(dt.UTC)  # the gateway runs on real time
    peer_module = pytest.importorskip("tests.test_smpp_peer")
    code = CODE.search(send(RESIDENT, "ВЫХОД 1").replies[0].text).group().replace("-", "")
    peer = peer_module.NodePeer()
    transport = SmppTransport(local_settings(peer.port))
    gateway = Gateway(config, engine, [transport])
    gateway.start()
    try:
        wait_for(lambda: transport.health().up)
        peer.command("deliver", source_addr=OFFICER[1:], text=f"*377*{code}#",
                     ussd_service_op=1, its_session_info="0c03")
        [submit] = peer.wait_events("submit_sm", 1, timeout=20)
        assert submit["ussd_service_op"] == 17 and submit["message"].startswith("ДЕЙСТВУЕТ")
    finally:
        gateway.stop()
        peer.close()


# -- over HTTP ----------------------------------------------------------------------------------


def http_client(engine, menu, clock, trusted_proxy="", **ussd):
    """`/ussd` alone, behind the console's proxy handling; `ussd` are `[ussd]` keys (loopback
    callers allowed unless said otherwise)."""
    app = Flask(__name__)
    settings = UssdSettings(**{"allow_loopback": True, **ussd})
    app.register_blueprint(blueprint(engine, menu, settings, clock))
    app.wsgi_app = ProxyAware(app.wsgi_app, trusted_proxy)
    return app.test_client()


def post(client, text="", phone=OFFICER, peer="127.0.0.1", **kwargs):
    return client.post("/ussd", data={"sessionId": "s1", "serviceCode": "*377#",
                                      "phoneNumber": phone, "text": text,
                                      **kwargs.pop("data", {})},
                       environ_base={"REMOTE_ADDR": peer}, **kwargs)


def test_http_officer_session_con_then_end(engine, menu, clock, permit_code):
    client = http_client(engine, menu, clock)
    first = post(client)
    assert first.status_code == 200 and first.text.startswith("CON ")
    final = post(client, permit_code)
    assert final.text.startswith("END ДЕЙСТВУЕТ") and final.mimetype == "text/plain"


def test_http_resident_and_stranger(engine, menu, clock, permit_code):
    client = http_client(engine, menu, clock)
    assert permit_code in post(client, phone=RESIDENT).text
    assert post(client, phone=STRANGER).text.startswith("END Пропуск: SMS ВЫХОД")


def test_http_token_in_a_header_or_a_form_field(engine, menu, clock, people):
    client = http_client(engine, menu, clock, token="t0ken", allow_loopback=False)
    assert post(client).status_code == 403
    assert post(client, headers={"X-USSD-Token": "wrong"}).status_code == 403
    assert post(client, headers={"X-USSD-Token": "t0ken"}).status_code == 200
    assert post(client, data={"token": "t0ken"}).status_code == 200
    assert post(client, data={"token": "t0ke"}).status_code == 403
    # Not in the URL, where access logs keep it.
    assert post(client, query_string={"token": "t0ken"}).status_code == 403


def test_http_without_a_token_answers_nobody_unless_loopback_is_allowed(engine, menu, clock,
                                                                        people):
    closed = http_client(engine, menu, clock, allow_loopback=False)
    assert post(closed).status_code == 403
    assert post(closed, peer="::1").status_code == 403
    local = http_client(engine, menu, clock)
    assert post(local, peer="203.0.113.9").status_code == 403
    assert post(local, peer="::1").status_code == 200
    assert post(local, headers={"X-USSD-Token": "guess"}).status_code == 403  # a wrong token


def test_http_missing_phone_is_a_clear_error(engine, menu, clock, people):
    response = http_client(engine, menu, clock).post("/ussd", data={"text": ""})
    assert response.status_code == 400 and "phoneNumber" in response.text


def test_http_forwarding_headers_from_a_direct_caller_change_nothing(engine, menu, clock,
                                                                     permit_code):
    """Issue 14, finding 1: the old check looked for forwarding headers, which waitress removes
    from untrusted callers, so a relayed request passed as a local one. Trust is decided from
    the socket peer now; the headers a caller sends neither open nor close anything."""
    closed = http_client(engine, menu, clock, allow_loopback=False)
    for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):
        relayed = post(closed, phone=RESIDENT, headers={header: "127.0.0.1"})
        assert relayed.status_code == 403 and permit_code not in relayed.text
    far = http_client(engine, menu, clock)
    spoofed = post(far, phone=RESIDENT, peer="203.0.113.9",
                   headers={"X-Forwarded-For": "127.0.0.1"})
    assert spoofed.status_code == 403 and permit_code not in spoofed.text


def test_http_a_request_through_the_trusted_proxy_is_never_local(engine, menu, clock,
                                                                 permit_code):
    client = http_client(engine, menu, clock, trusted_proxy="127.0.0.1", token="t0ken")
    for headers in ({"X-Forwarded-For": "127.0.0.1"}, {"X-Forwarded-For": "203.0.113.9"}, {}):
        refused = post(client, phone=RESIDENT, headers=headers)
        assert refused.status_code == 403 and permit_code not in refused.text, headers
    allowed = post(client, phone=RESIDENT, headers={"X-Forwarded-For": "203.0.113.9",
                                                    "X-USSD-Token": "t0ken"})
    assert permit_code in allowed.text


def test_http_allow_from_limits_the_addresses_answered(engine, menu, clock, people):
    client = http_client(engine, menu, clock, trusted_proxy="127.0.0.1", token="t0ken",
                         allow_from=("192.0.2.0/28", "2001:db8::/32"))
    token = {"X-USSD-Token": "t0ken"}
    assert post(client, headers={**token, "X-Forwarded-For": "192.0.2.5"}).status_code == 200
    assert post(client, headers={**token, "X-Forwarded-For": "192.0.2.16"}).status_code == 403
    assert post(client, peer="2001:db8::7", headers=token).status_code == 200
    assert post(client, peer="198.51.100.1", headers=token).status_code == 403
    assert post(client, headers=token).status_code == 403  # the proxy itself is not listed


def test_http_fields_with_nul_or_lone_surrogates_are_answered_not_a_500(engine, menu, clock,
                                                                       permit_code):
    client = http_client(engine, menu, clock)
    typed = permit_code[:4] + "\0" + permit_code[4:]
    assert post(client, typed).text.startswith("END ДЕЙСТВУЕТ")
    surrogate = client.post("/ussd", data=f"phoneNumber=%2B{OFFICER[1:]}&text=%ED%A0%80"
                            f"{permit_code}", content_type="application/x-www-form-urlencoded")
    assert surrogate.status_code == 200
    assert post(client, phone=OFFICER + "\0").text.startswith("CON ")  # the NUL is dropped
