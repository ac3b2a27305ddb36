"""The event backbone: CloudEvents envelope, schemas, outbox, consumer runtime, inbox, dead letters."""
