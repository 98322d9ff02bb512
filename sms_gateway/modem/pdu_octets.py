"""Reading a TPDU octet by octet, and the swapped-nibble ("semi-octet") representation.

Every read is bounds-checked here, so a short or corrupt PDU surfaces as a CodecError and
never as an IndexError somewhere in a field decoder.
"""

from __future__ import annotations

from sms_encoding.errors import CodecError

# Octet -> the same octet with its nibbles swapped: semi-octets <-> readable hex digits.
SWAP_NIBBLES = bytes(((octet & 0x0F) << 4) | (octet >> 4) for octet in range(256))


def to_semi_octets(digits: str) -> bytes:
    """Hex-digit string -> semi-octets, padded with the F filler to whole octets."""
    if len(digits) % 2:
        digits += "f"
    return bytes.fromhex(digits).translate(SWAP_NIBBLES)


def from_semi_octets(data: bytes) -> str:
    """Semi-octets -> hex-digit string (lower case, filler included)."""
    return data.translate(SWAP_NIBBLES).hex()


def unhex(hex_pdu: str) -> bytes:
    """The octets of a PDU as a modem prints it (hex, either case)."""
    try:
        return bytes.fromhex(hex_pdu)
    except ValueError as exc:
        raise CodecError(f"PDU is not hex: {exc}") from None


class Reader:
    """A cursor over a PDU's octets that fails with CodecError when the PDU ends early."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def octet(self) -> int:
        return self.take(1)[0]

    def take(self, count: int) -> bytes:
        end = self.pos + count
        if end > len(self.data):
            raise CodecError(
                f"PDU ends after {len(self.data)} octets, {count} more expected at {self.pos}"
            )
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk
