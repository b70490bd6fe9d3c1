"""Brokers running the B2TRADER platform (B2BROKER)."""
