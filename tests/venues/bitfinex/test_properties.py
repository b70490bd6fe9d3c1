"""Whatever arrives on the socket, the frame handler never raises; bad frames are counted and logged."""

from __future__ import annotations

import json
import logging
import tempfile
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from blotter.core.notices import NoticeBus, StateBus
from blotter.core.order import AccountKey, OrderKey, Upsert
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


# -- the typed decode of an order frame against the general reading ---------------------------
def general(frame: bytes, parser: StreamParser) -> Any:
    """What the general reading makes of ``frame`` (orjson, then the decoded list converted):
    the event, or the words of its refusal."""
    try:
        event = parser.parse_message(orjson.loads(frame))
    except MalformedFrame as exc:
        return ("refused", str(exc))
    return event.order if isinstance(event, Upsert) else event


def typed(frame: bytes, parser: StreamParser) -> Any:
    """What ``parse_stream`` (the frame's bytes decoded straight into an ``OrderArray``) makes
    of ``frame``, in the same shape as ``general``."""
    try:
        return parser.parse_stream(frame)
    except MalformedFrame as exc:
        return ("refused", str(exc))


@settings(max_examples=600, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["on", "ou", "oc"]), mutated_orders()), max_size=6))
def test_an_order_frame_reads_the_same_decoded_typed_or_in_general(
    frames: list[tuple[str, list[Any]]],
) -> None:
    # a typed decode that took or refused what the general reading does not, or said it in
    # other words, would make a row depend on how its frame happened to be read
    fast, slow = StreamParser(ACCOUNT), StreamParser(ACCOUNT)
    for kind, arr in frames:
        try:
            frame = orjson.dumps([0, kind, arr])
        except TypeError:  # an integer orjson cannot write: the general reading refuses it too
            continue
        assert typed(frame, fast) == general(frame, slow)


@settings(max_examples=300, deadline=None)
@given(
    st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("1e9"), places=8,
                allow_nan=False, allow_infinity=False),
    st.sampled_from([1, -1]),
)
def test_amounts_read_as_the_digits_sent(amount: Decimal, sign: int) -> None:
    # the venue prints at most 15 significant digits: the decoder's float, read back, is
    # exactly the number printed (its value; 1e-08 may read as 1E-8)
    text = f"{amount.normalize():f}"
    assume(len(text.replace(".", "").lstrip("0")) <= 15)
    order = VALID.copy()
    order[6] = order[7] = "AMOUNT"
    frame = json.dumps([0, "on", order]).replace('"AMOUNT"', f"{'-' if sign < 0 else ''}{text}")
    event = StreamParser(ACCOUNT).parse(frame.encode())
    assert isinstance(event, Upsert)
    assert event.order.amount == amount and event.order.remaining == amount


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        (0, "42", "order without an integer id"),
        (0, 0, "order without an integer id"),
        (1, 1.5, "order 42: group id is not an integer"),
        (2, "7", "order 42: client id is not an integer"),
        (3, 5, "order 42: symbol, type or status is not text"),
        (4, 1.5, "order 42: MTS_CREATE is not an integer"),
        (5, "1", "order 42: MTS_UPDATE is not an integer"),
        (6, "1.5", "order 42: amount is not a number"),
        (7, None, "order 42: original amount is not a number"),
        (12, True, "order 42: flags are not an integer"),
        (13, None, "order 42: symbol, type or status is not text"),
        (16, "100", "order 42: price is not a number"),
        (17, [], "order 42: average price is not a number"),
    ],
)
def test_a_field_of_the_wrong_type_is_named_in_the_same_words_either_way(
    field: int, value: Any, words: str
) -> None:
    arr = list(VALID)
    arr[field] = value
    frame = orjson.dumps([0, "ou", arr])
    assert typed(frame, StreamParser(ACCOUNT)) == ("refused", words)
    assert general(frame, StreamParser(ACCOUNT)) == ("refused", words)
    short = orjson.dumps([0, "ou", VALID[:31]])
    assert typed(short, StreamParser(ACCOUNT)) == ("refused", "order is not an array of 32 fields")
