"""The errors the codecs raise: one family, so a transport can catch exactly "bad message"."""


class CodecError(ValueError):
    """Input that is not a valid encoding, or text that cannot be encoded as asked."""


class MessageTooLong(CodecError):
    """The text needs more concatenated parts than allowed (at most 255 by the UDH format)."""
