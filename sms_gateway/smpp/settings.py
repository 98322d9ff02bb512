"""One SMPP connection's configuration: a `[[smpp]]` table, read and validated once at start.

Validation happens here, once, so the session never meets a value it would have to truncate
silently (smpplib cuts over-long fields without a word) or a mode it does not know.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sms_gateway.typed_settings import ConfigError, at_least_one, positive, setting

BindMode = Literal["transceiver", "pair"]
Alphabet = Literal["gsm7", "latin1", "ascii"]
IdFormat = Literal["hex", "decimal"]
LongMessages = Literal["udh", "sar", "payload"]


def _c_octets(limit: int) -> dict:
    """A C-octet string of a bind PDU (SMPP 3.4 section 4.1): ASCII, `limit` without NUL."""
    return {"allowed": f"ASCII text of at most {limit} characters",
            "check": lambda v: len(v) <= limit and v.isascii()}


def _octet() -> dict:
    return {"allowed": "0 to 255", "check": lambda v: 0 <= v <= 255}


_SECONDS = "seconds > 0"


@dataclass(frozen=True)
class SmppSettings:
    """How to reach one SMSC and how it speaks.

    `default_alphabet` is how the SMSC means data_coding 0 (GSM 03.38 on most GSM networks);
    `message_id_format` is the base of the ids in its submit_sm_resp and receipted_message_id;
    `long_messages` picks UDH, SAR TLVs or one message_payload for replies over one part;
    `max_per_second` 0 means no cap.
    """

    name: str = setting(allowed="a name")
    host: str = setting(allowed="a host")
    system_id: str = setting(**_c_octets(15))
    port: int = setting(2775, allowed="a port number", check=lambda v: 0 < v < 65536)
    password: str = setting("", **_c_octets(8))
    source_addr: str = setting("", **_c_octets(20))
    system_type: str = setting("", **_c_octets(12))
    source_ton: int = setting(0, **_octet())
    source_npi: int = setting(0, **_octet())
    dest_ton: int = setting(1, **_octet())
    dest_npi: int = setting(1, **_octet())
    address_range: str = setting("", **_c_octets(40))
    bind_mode: BindMode = setting("transceiver", allowed='"transceiver" or "pair"')
    default_alphabet: Alphabet = setting("gsm7", allowed='"gsm7", "latin1" or "ascii"')
    message_id_format: IdFormat = setting("hex", allowed='"hex" or "decimal"')
    long_messages: LongMessages = setting("udh", allowed='"udh", "sar" or "payload"')
    window: int = setting(10, allowed="a whole number >= 1", check=at_least_one)
    max_per_second: float = setting(0.0, allowed="messages a second (0: no cap)",
                                    check=lambda v: v >= 0)
    enquire_link_seconds: float = setting(30.0, allowed=_SECONDS, check=positive)
    response_timeout_seconds: float = setting(10.0, allowed=_SECONDS, check=positive)
    reconnect_min_seconds: float = setting(1.0, allowed=_SECONDS, check=positive)
    reconnect_max_seconds: float = setting(60.0, allowed=_SECONDS, check=positive)

    def __post_init__(self) -> None:
        if self.reconnect_max_seconds < self.reconnect_min_seconds:
            raise ConfigError("reconnect_max_seconds: below reconnect_min_seconds")
