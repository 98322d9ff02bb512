"""Storage plumbing that the rules (`permits/`) and the runtime (`sms_gateway/`) both use:
engines and transactions, the SQLite writers' queue, bulk statements, the tables."""
