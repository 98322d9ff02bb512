"""Alembic environment: the engine comes from our config (see sms_gateway.migrate)."""

from alembic import context

from storage.tables import metadata  # every table: the ledger's, the pipeline's, the console's

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
