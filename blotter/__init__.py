"""blotter: every open order across crypto venues in one live table, with confirmed cancels."""

__version__ = "0.1.0"
