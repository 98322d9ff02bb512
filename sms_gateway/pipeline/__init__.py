"""The message path: durable inbox, reassembly, dispatcher, outbox, senders, upkeep."""
