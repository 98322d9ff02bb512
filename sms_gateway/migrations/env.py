"""Alembic environment: the engine comes from our config (see sms_gateway.migrate)."""

from alembic import context

import sms_gateway.web.schema  # noqa: F401  (the operators' tables join the metadata)
from sms_gateway.schema import metadata  # the ledger's metadata, with the pipeline's tables

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
