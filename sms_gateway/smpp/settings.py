"""One SMPP connection's configuration: loaded from a `[[smpp]]` TOML table, validated at start.

Validation happens here, once, so the session never meets a value it would have to truncate
silently (smpplib cuts over-long fields without a word) or a mode it does not know.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

BindMode = Literal["transceiver", "pair"]
Alphabet = Literal["gsm7", "latin1", "ascii"]
IdFormat = Literal["hex", "decimal"]
LongMessages = Literal["udh", "sar", "payload"]

# Lengths of the C-octet strings in a bind PDU, NUL excluded (SMPP 3.4 section 4.1).
_MAX_LENGTHS = {
    "system_id": 15,
    "password": 8,
    "system_type": 12,
    "address_range": 40,
    "source_addr": 20,
}
_CHOICES = {
    "bind_mode": ("transceiver", "pair"),
    "default_alphabet": ("gsm7", "latin1", "ascii"),
    "message_id_format": ("hex", "decimal"),
    "long_messages": ("udh", "sar", "payload"),
}


class SettingsError(ValueError):
    """An `[[smpp]]` table holds a value the SMPP transport cannot use."""


@dataclass(frozen=True)
class SmppSettings:
    """How to reach one SMSC and how it speaks.

    `default_alphabet` is how the SMSC means data_coding 0 (GSM 03.38 on most GSM networks);
    `message_id_format` is the base of the ids in its submit_sm_resp and receipted_message_id;
    `long_messages` picks UDH, SAR TLVs or one message_payload for replies over one part;
    `max_per_second` 0 means no cap.
    """

    name: str
    host: str
    port: int
    system_id: str
    password: str
    source_addr: str
    system_type: str = ""
    source_ton: int = 0
    source_npi: int = 0
    dest_ton: int = 1
    dest_npi: int = 1
    address_range: str = ""
    bind_mode: BindMode = "transceiver"
    default_alphabet: Alphabet = "gsm7"
    message_id_format: IdFormat = "hex"
    long_messages: LongMessages = "udh"
    window: int = 10
    max_per_second: float = 0.0
    enquire_link_seconds: float = 30.0
    response_timeout_seconds: float = 10.0
    reconnect_min_seconds: float = 1.0
    reconnect_max_seconds: float = 60.0

    def __post_init__(self) -> None:
        for field_name, limit in _MAX_LENGTHS.items():
            value = getattr(self, field_name)
            if len(value) > limit or not value.isascii():
                raise SettingsError(
                    f"smpp {self.name}: {field_name} must be ASCII, at most {limit} characters"
                )
        for field_name, allowed in _CHOICES.items():
            if getattr(self, field_name) not in allowed:
                raise SettingsError(f"smpp {self.name}: {field_name} must be one of {allowed}")
        for field_name in ("source_ton", "source_npi", "dest_ton", "dest_npi"):
            if not 0 <= getattr(self, field_name) <= 255:
                raise SettingsError(f"smpp {self.name}: {field_name} must fit one octet")
        self._check_numbers()

    def _check_numbers(self) -> None:
        if not 0 < self.port < 65536:
            raise SettingsError(f"smpp {self.name}: port out of range")
        if self.window < 1:
            raise SettingsError(f"smpp {self.name}: window must be at least 1")
        if self.max_per_second < 0:
            raise SettingsError(f"smpp {self.name}: max_per_second must be 0 or more")
        if (
            min(
                self.enquire_link_seconds, self.response_timeout_seconds, self.reconnect_min_seconds
            )
            <= 0
        ):
            raise SettingsError(f"smpp {self.name}: timers must be positive")
        if self.reconnect_max_seconds < self.reconnect_min_seconds:
            raise SettingsError(f"smpp {self.name}: reconnect_max below reconnect_min")
