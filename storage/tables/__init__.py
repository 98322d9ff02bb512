"""Every table of the database, by owner: the ledger (`permits/`), the message pipeline and
the console (`sms_gateway/`). All join one MetaData, so one Alembic history covers them."""

from storage.base import metadata
from storage.tables import console, ledger, messages

__all__ = ["console", "ledger", "messages", "metadata"]
