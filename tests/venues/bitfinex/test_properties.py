"""Whatever arrives on the socket, the frame handler never raises; bad frames are counted and logged."""

from __future__ import annotations

import json
import logging
import tempfile
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blotter.core.notices import NoticeBus, StateBus
from blotter.core.order import AccountKey, OrderKey
from blotter.core.store import OrderStore
from blotter.core.venue import MalformedFrame
from blotter.venues.bitfinex.client import BitfinexClient
from blotter.venues.bitfinex.stream import StreamParser

ACCOUNT = AccountKey("bitfinex", "prop")
NONCE_DIR = tempfile.mkdtemp(prefix="blotter-nonce-")
SECRET = "prop-secret-value"

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=40,
)
kinds = st.sampled_from(["os", "on", "ou", "oc", "n", "hb", "ps", "te", "zz"])
events = st.sampled_from(["info", "auth", "error", "pong", "conf", "subscribed", "x"])

VALID = [
    42, 7, 9, "tBTCUSD", 1700000000000, 1700000000001, 1.5, 2.0, "EXCHANGE LIMIT", None,
    None, None, 0, "ACTIVE", None, None, 100.5, 0, 0, 0, None, None, None, 0, 0, None, None,
    None, "API>BFX", None, None, None,
]


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()  # also big integers, which orjson refuses to write


@st.composite
def mutated_orders(draw: st.DrawFn) -> list[Any]:
    """A valid order array with a few fields replaced, cut short or extended."""
    arr = list(VALID)
    for _ in range(draw(st.integers(0, 4))):
        arr[draw(st.integers(0, 31))] = draw(json_values)
    cut = draw(st.sampled_from([32, 32, 32, 31, 26, 40, 0]))
    if cut < 32:
        arr = arr[:cut]
    elif cut > 32:
        arr = arr + [draw(json_scalars) for _ in range(cut - 32)]
    return arr


@st.composite
def frames(draw: st.DrawFn) -> bytes | str:
    shape = draw(st.integers(0, 6))
    if shape == 0:
        return draw(st.binary(max_size=200))
    if shape == 1:
        return draw(st.text(max_size=200))
    if shape == 2:
        return dumps(draw(json_values))
    if shape == 3:
        kind = draw(kinds)
        data = [draw(mutated_orders()) for _ in range(draw(st.integers(0, 3)))] if kind == "os" \
            else draw(mutated_orders())
        return dumps([draw(st.sampled_from([0, 0, 1, -1, "0", None])), kind, data])
    if shape == 4:
        note = [draw(json_values) for _ in range(draw(st.integers(0, 10)))]
        if len(note) > 4 and draw(st.booleans()):
            note[4] = draw(mutated_orders())
        return dumps([0, "n", note])
    if shape == 5:
        obj = draw(st.dictionaries(st.text(max_size=8), json_values, max_size=5))
        obj["event"] = draw(events)
        for field in ("version", "code", "status", "msg", "userId"):
            if draw(st.booleans()):
                obj[field] = draw(json_scalars)
        return dumps(obj)
    text = dumps([0, "ou", VALID]).decode()
    cut = draw(st.integers(0, len(text)))
    return text[:cut] + draw(st.text(max_size=5))  # truncated / corrupted good frame


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def make_client() -> tuple[BitfinexClient, OrderStore, NoticeBus]:
    store, notices = OrderStore(), NoticeBus()
    client = BitfinexClient(
        ACCOUNT, rest_url="http://127.0.0.1:9", ws_url="ws://127.0.0.1:9/ws/2",
        api_key="prop-key", api_secret=SECRET, store=store, notices=notices,
        states=StateBus(), nonce_dir=NONCE_DIR,
    )
    return client, store, notices


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(frames())
def test_handle_frame_never_raises_and_counts_what_it_rejects(frame: bytes | str) -> None:
    client, _store, _ = make_client()
    records = Records()
    logger = logging.getLogger("blotter.venues.bitfinex")
    logger.addHandler(records)
    try:
        try:
            StreamParser(ACCOUNT).parse(frame)
            malformed = False
        except MalformedFrame:
            malformed = True
        client.handle_frame(frame)  # must not raise, whatever the frame
    finally:
        logger.removeHandler(records)
    assert client.malformed_frames == (1 if malformed else 0)
    warnings = [r for r in records.records if r.levelno == logging.WARNING]
    if malformed:
        assert len(warnings) == 1
        message = warnings[0].getMessage()
        assert "malformed frame" in message
        assert SECRET not in message and "prop-key" not in message
        assert len(message) < 400  # an excerpt, not the whole frame
    else:
        assert not warnings
    assert not [r for r in records.records if r.levelno >= logging.ERROR]  # no handler bug


@settings(max_examples=150, deadline=None)
@given(st.lists(frames(), max_size=20))
def test_a_stream_of_junk_leaves_the_store_consistent(stream: list[bytes | str]) -> None:
    client, store, _ = make_client()
    good = dumps([0, "on", VALID])
    client.handle_frame(good)
    for frame in stream:
        client.handle_frame(frame)
    store.flush()
    for order in store.orders(ACCOUNT):
        assert order.status.is_open
        assert order.amount >= 0 and order.remaining >= 0
    assert client.malformed_frames <= len(stream)


def test_valid_frames_still_reach_the_store_after_junk() -> None:
    client, store, _ = make_client()
    for junk in (b"\xff\xfe", "[0,", b'{"event":', b"[0,\"ou\",[1]]"):
        client.handle_frame(junk)
    client.handle_frame(dumps([0, "on", VALID]))
    assert client.malformed_frames == 4
    assert store.get(OrderKey("bitfinex", "prop", "42")) is not None
