from blotter.core.times import iso_utc_ms


def test_epoch_milliseconds_read_as_utc_exact_to_the_millisecond() -> None:
    assert iso_utc_ms(0) == "1970-01-01T00:00:00.000Z"
    assert iso_utc_ms(1_795_236_038_172) == "2026-11-21T04:40:38.172Z"
    # every millisecond of a stretch where float seconds would round some of them down
    for ms in range(1_700_000_000_000, 1_700_000_001_000):
        assert iso_utc_ms(ms).endswith(f".{ms % 1000:03d}Z")
