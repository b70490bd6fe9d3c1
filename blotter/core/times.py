"""Times as the files and the command line write them: ISO 8601 UTC with milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def iso_utc_ms(ms: int) -> str:
    """Milliseconds since the epoch as ISO 8601 UTC, exact to the millisecond (integer
    arithmetic, no float rounding): ``2026-11-21T04:40:38.172Z``."""
    moment = _EPOCH + timedelta(milliseconds=ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
