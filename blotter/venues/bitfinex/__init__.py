"""Bitfinex API v2."""
