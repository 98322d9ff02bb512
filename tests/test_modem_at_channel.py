"""The AT channel state machine, byte by byte: what a modem sends, which events come out."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sms_gateway.modem.at_channel import ATChannel, ChannelStateError, State
from sms_gateway.modem.at_events import (
    NEED_DATA,
    Error,
    ErrorKind,
    InfoLine,
    Ok,
    Prompt,
    StrayLine,
    Unsolicited,
)

CDS_PDU = "07919762020033F10602919772000000F0621152517511216211525175112100"


def events(channel: ATChannel, data: bytes = b"") -> list[object]:
    channel.receive_data(data)
    found = []
    while (event := channel.next_event()) is not NEED_DATA:
        found.append(event)
    return found


def test_a_command_is_terminated_by_carriage_return() -> None:
    assert ATChannel().send_command("AT+CSQ") == b"AT+CSQ\r"


def test_information_lines_then_ok() -> None:
    channel = ATChannel()
    channel.send_command("AT+CSQ")
    assert events(channel, b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n") == [InfoLine("+CSQ: 20,99"), Ok()]
    assert channel.state is State.IDLE


def test_bytes_may_arrive_one_at_a_time() -> None:
    channel = ATChannel()
    channel.send_command("AT+CGMI")
    found = []
    for byte in b"\r\nFakeGSM\r\n\r\nOK\r\n":
        found += events(channel, bytes([byte]))
    assert found == [InfoLine("FakeGSM"), Ok()]


def test_echo_is_tolerated() -> None:
    channel = ATChannel()
    channel.send_command("ATE1")
    assert events(channel, b"ATE1\r\r\nOK\r\n") == [Ok()]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"ERROR", Error(ErrorKind.ERROR)),
        (b"+CMS ERROR: 322", Error(ErrorKind.CMS, 322, "322")),
        (b"+CME ERROR: 14", Error(ErrorKind.CME, 14, "14")),
        (b"+CME ERROR: SIM busy", Error(ErrorKind.CME, None, "SIM busy")),
        (b"NO CARRIER", Error(ErrorKind.NO_CARRIER)),
    ],
)
def test_final_errors_carry_their_family_and_code(line: bytes, expected: Error) -> None:
    channel = ATChannel()
    channel.send_command("AT+CMGR=1")
    assert events(channel, b"\r\n" + line + b"\r\n") == [expected]
    assert channel.state is State.IDLE


def test_cmti_between_a_command_and_its_answer_is_set_aside() -> None:
    channel = ATChannel()
    channel.send_command("AT+CMGL=4")
    data = b'\r\n+CMGL: 1,1,,27\r\n\r\n+CMTI: "SM",2\r\n0791AB\r\n\r\nOK\r\n'
    assert events(channel, data) == [
        InfoLine("+CMGL: 1,1,,27"),
        Unsolicited("+CMTI", '"SM",2'),
        InfoLine("0791AB"),
        Ok(),
    ]


def test_cds_takes_its_pdu_line_along_even_mid_response() -> None:
    channel = ATChannel()
    channel.send_command("AT+CSQ")
    data = f"\r\n+CSQ: 20,99\r\n\r\n+CDS: 25\r\n{CDS_PDU}\r\n\r\nOK\r\n".encode()
    assert events(channel, data) == [
        InfoLine("+CSQ: 20,99"),
        Unsolicited("+CDS", "25", CDS_PDU),
        Ok(),
    ]


def test_text_mode_cds_is_one_line() -> None:
    channel = ATChannel()
    assert events(channel, b'\r\n+CDS: 6,46,"+79270000000",145\r\n') == [
        Unsolicited("+CDS", '6,46,"+79270000000",145')
    ]


def test_notifications_while_idle() -> None:
    channel = ATChannel()
    data = b'\r\nRING\r\n\r\n+CDSI: "SR",4\r\n\r\n+CREG: 5\r\n'
    assert events(channel, data) == [
        Unsolicited("RING"),
        Unsolicited("+CDSI", '"SR",4'),
        Unsolicited("+CREG", "5"),
    ]


def test_creg_answer_is_information_when_asked_for() -> None:
    channel = ATChannel()
    channel.send_command("AT+CREG?")
    data = b'\r\n+CREG: 1\r\n\r\n+CREG: 2,1,"1A2B","3C4D"\r\n\r\nOK\r\n'
    assert events(channel, data) == [
        InfoLine("+CREG: 1"),
        InfoLine('+CREG: 2,1,"1A2B","3C4D"'),
        Ok(),
    ]


def test_compound_command_answers_belong_to_it() -> None:
    channel = ATChannel()
    channel.send_command("AT+CMEE=1;+CREG?")
    assert events(channel, b"\r\n+CREG: 0,1\r\n\r\nOK\r\n") == [InfoLine("+CREG: 0,1"), Ok()]


def test_send_prompt_body_and_reference() -> None:
    channel = ATChannel()
    assert channel.send_command("AT+CMGS=18", expect_prompt=True) == b"AT+CMGS=18\r"
    assert events(channel, b"AT+CMGS=18\r\r\n> ") == [Prompt()]
    assert channel.send_body("0011000B91") == b"0011000B91\x1a"
    assert events(channel, b"0011000B91\x1a\r\n+CMGS: 7\r\n\r\nOK\r\n") == [
        InfoLine("+CMGS: 7"),
        Ok(),
    ]


def test_prompt_without_space_and_after_a_notification() -> None:
    channel = ATChannel()
    channel.send_command("AT+CMGS=18", expect_prompt=True)
    assert events(channel, b'\r\n+CMTI: "SM",1\r\n>') == [Unsolicited("+CMTI", '"SM",1'), Prompt()]


def test_error_instead_of_prompt() -> None:
    channel = ATChannel()
    channel.send_command("AT+CMGS=18", expect_prompt=True)
    assert events(channel, b"\r\n+CMS ERROR: 314\r\n") == [Error(ErrorKind.CMS, 314, "314")]
    assert channel.state is State.IDLE


def test_abort_after_prompt() -> None:
    channel = ATChannel()
    channel.send_command("AT+CMGS=18", expect_prompt=True)
    events(channel, b"\r\n> ")
    assert channel.abort_body() == b"\x1b"
    assert events(channel, b"\r\nOK\r\n") == [Ok()]


def test_a_prompt_sign_outside_a_send_is_not_a_prompt() -> None:
    channel = ATChannel()
    channel.send_command("AT+CSQ")
    assert events(channel, b"\r\n> \r\nOK\r\n") == [InfoLine(">"), Ok()]


def test_lines_outside_a_command_are_stray() -> None:
    assert events(ATChannel(), b"\r\nOK\r\n\r\nFakeGSM\r\n") == [
        StrayLine("OK"),
        StrayLine("FakeGSM"),
    ]


def test_one_command_at_a_time() -> None:
    channel = ATChannel()
    channel.send_command("AT")
    with pytest.raises(ChannelStateError):
        channel.send_command("AT")
    with pytest.raises(ChannelStateError):
        channel.send_body("00")


def test_reset_forgets_a_half_received_answer() -> None:
    channel = ATChannel()
    channel.send_command("AT+CSQ")
    events(channel, b"\r\n+CSQ: 2")
    channel.reset()
    assert channel.state is State.IDLE
    assert events(channel, b"\r\nRING\r\n") == [Unsolicited("RING")]


def test_endless_garbage_without_line_end_is_bounded() -> None:
    channel = ATChannel()
    found = events(channel, b"x" * 20000)
    assert found and all(isinstance(event, StrayLine) for event in found)


@settings(max_examples=300, deadline=None)
@given(
    chunks=st.lists(st.binary(max_size=64), max_size=20),
    command=st.sampled_from([None, "AT", "AT+CMGL=4", "AT+CMGS=18"]),
)
def test_random_bytes_never_raise(chunks: list[bytes], command: str | None) -> None:
    channel = ATChannel()
    if command is not None:
        channel.send_command(command, expect_prompt=command.startswith("AT+CMGS"))
    for chunk in chunks:
        events(channel, chunk)
        if channel.state is State.BODY:
            channel.send_body("00")


@settings(max_examples=200, deadline=None)
@given(
    noise=st.lists(
        st.sampled_from(
            [
                b"\r\n",
                b"OK",
                b"ERROR",
                b'+CMTI: "SM",1',
                b"+CDS: 25",
                b"> ",
                b"+CMS ERROR: 5",
                b"\x1a",
                b"\x00",
                b"\xff\xfe",
                b"RING",
                b"+CSQ: 1,2",
            ]
        ),
        max_size=30,
    )
)
def test_plausible_line_soup_never_raises(noise: list[bytes]) -> None:
    channel = ATChannel()
    channel.send_command("AT+CMGS=18", expect_prompt=True)
    for piece in noise:
        events(channel, piece)
        if channel.state is State.BODY:
            channel.send_body("00")
        elif channel.state is State.IDLE:
            channel.send_command("AT+CSQ")
