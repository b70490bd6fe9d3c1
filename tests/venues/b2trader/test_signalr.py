"""The SignalR JSON hub codec against hand-written frames (tests/fixtures/b2trader, from the
protocol notes §3.3–§3.9): framing, handshake, every message type, builders, keep-alive."""

from __future__ import annotations

import json

import pytest

from blotter.venues.b2trader import signalr
from blotter.venues.b2trader.signalr import (
    CancelInvocation,
    Close,
    Completion,
    Decoder,
    HandshakeResponse,
    Invocation,
    InvocationIds,
    MalformedRecord,
    Ping,
    RecordSplitter,
    RecordTooLarge,
    StreamInvocation,
    StreamItem,
    UnknownMessage,
    parse_handshake_response,
    parse_message,
)
from tests.helpers import fixture_text

RS = "\x1e"


def text(name: str) -> str:
    return fixture_text("b2trader", name)


# -- builders ----------------------------------------------------------------------------------
def test_handshake_request_is_the_documented_bytes() -> None:
    assert signalr.RECORD_SEPARATOR == "\x1e"
    assert signalr.handshake_request() == '{"protocol":"json","version":1}\x1e'
    assert signalr.handshake_request("messagepack", 2) == '{"protocol":"messagepack","version":2}\x1e'


def test_stream_invocation_matches_the_venue_example() -> None:
    # §3.6 verbatim subscription, compact, then the separator (§3.9 transcript line).
    built = signalr.stream_invocation("0", "OpenOrders", ["67d0456f8c7b1108e4cf5d46"])
    assert built == (
        '{"arguments":["67d0456f8c7b1108e4cf5d46"],"invocationId":"0",'
        '"target":"OpenOrders","type":4}\x1e'
    )
    assert built.count(RS) == 1


def test_other_builders() -> None:
    assert signalr.cancel_invocation("0") == '{"type":5,"invocationId":"0"}\x1e'
    assert signalr.ping() == '{"type":6}\x1e'
    assert signalr.close_message() == '{"type":7}\x1e'
    assert signalr.close_message("bye", allow_reconnect=True) == (
        '{"type":7,"error":"bye","allowReconnect":true}\x1e'
    )


def test_builders_never_emit_a_separator_inside_a_payload() -> None:
    built = signalr.stream_invocation("1", "OpenOrders", ["a\x1eb"])
    assert built.count(RS) == 1
    assert json.loads(built[:-1])["arguments"] == ["a\x1eb"]


@pytest.mark.parametrize("bad", ["", 0])
def test_invocation_ids_must_be_non_empty_strings(bad: object) -> None:
    with pytest.raises(ValueError):
        signalr.stream_invocation(bad, "OpenOrders", [])  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        signalr.cancel_invocation(bad)  # type: ignore[arg-type]


def test_invocation_ids_count_up_from_zero() -> None:
    ids = InvocationIds()
    assert [ids.next(), ids.next(), next(ids)] == ["0", "1", "2"]
    assert next(InvocationIds(7)) == "7"


def test_keep_alive_constants_are_the_signalr_defaults() -> None:
    assert signalr.KEEP_ALIVE_INTERVAL_S == 15.0
    assert signalr.SERVER_TIMEOUT_S == 30.0
    assert signalr.HANDSHAKE_TIMEOUT_S == 15.0


# -- splitting ---------------------------------------------------------------------------------
def test_one_record_per_frame() -> None:
    s = RecordSplitter()
    assert s.feed('{"type":6}\x1e') == ['{"type":6}']
    assert s.pending == 0


def test_several_records_in_one_frame() -> None:
    s = RecordSplitter()
    frame = '{}\x1e{"type":6}\x1e{"type":3,"invocationId":"0"}\x1e'
    assert s.feed(frame) == ["{}", '{"type":6}', '{"type":3,"invocationId":"0"}']


def test_a_record_split_across_three_frames() -> None:
    s = RecordSplitter()
    record = text("ws_open_orders.txt")
    a, b = len(record) // 3, 2 * len(record) // 3
    assert s.feed(record[:a]) == []
    assert s.pending == a
    assert s.feed(record[a:b]) == []
    assert s.feed(record[b:] + '{"type":6}\x1e{"ty') == [record[:-1], '{"type":6}']
    assert s.pending == 4
    assert s.feed('pe":7}\x1e') == ['{"type":7}']
    assert s.pending == 0


def test_binary_frames_split_inside_a_multibyte_character() -> None:
    s = RecordSplitter()
    data = '{"type":7,"error":"Zürich €"}\x1e'.encode()
    cut = data.index("€".encode()) + 1  # in the middle of the euro sign
    assert s.feed(data[:cut]) == []
    records = s.feed(bytearray(data[cut:]))
    assert records == ['{"type":7,"error":"Zürich €"}'.encode()]
    assert parse_message(records[0]) == Close("Zürich €")


def test_mixed_text_and_binary_frames_keep_the_tail() -> None:
    s = RecordSplitter()
    assert s.feed('{"type":') == []
    assert s.feed(b"6}\x1e") == [b'{"type":6}']
    assert s.feed(b'{"type"') == []
    assert s.feed(':7}\x1e') == [b'{"type":7}']
    assert s.feed('{"type":6}\x1e') == ['{"type":6}']


def test_empty_records_are_skipped() -> None:
    assert RecordSplitter().feed("\x1e\x1e{}\x1e\x1e") == ["{}"]
    assert RecordSplitter().feed("\x1e") == []


def test_unfinished_record_is_bounded() -> None:
    s = RecordSplitter(max_partial=10)
    s.feed("0123456789")
    with pytest.raises(RecordTooLarge, match="longer than 10"):
        s.feed("x")
    assert s.pending == 0  # dropped: the next frame starts afresh
    assert s.feed('{}\x1e') == ["{}"]
    assert issubclass(RecordTooLarge, MalformedRecord)
    assert signalr.MAX_PARTIAL_RECORD == 16 * 1024 * 1024


# -- handshake ---------------------------------------------------------------------------------
def test_handshake_ok_and_error() -> None:
    assert parse_handshake_response(text("ws_handshake_ok.txt")[:-1]) == HandshakeResponse()
    assert parse_handshake_response("{}").ok
    refused = parse_handshake_response(text("ws_handshake_error.txt")[:-1])
    assert not refused.ok
    assert refused.error == "Requested protocol 'messagepack' is not available."


@pytest.mark.parametrize(
    "record, reason",
    [
        ("[]", "not a JSON object"),
        ('{"type":6}', "hub message"),
        ('{"error":42}', "not a string"),
        ("{", "not JSON"),
    ],
)
def test_bad_handshake_responses(record: str, reason: str) -> None:
    with pytest.raises(MalformedRecord, match=reason):
        parse_handshake_response(record)


# -- messages ----------------------------------------------------------------------------------
def test_open_orders_stream_item() -> None:
    record = text("ws_open_orders.txt")[:-1]
    msg = parse_message(record)
    assert isinstance(msg, StreamItem)
    assert msg.invocation_id == "0"
    assert isinstance(msg.item, list) and len(msg.item) == 1
    assert msg.item[0]["orderId"] == "01JVQBFSTVC40VK03A0AY7K016"
    assert msg.record == record


@pytest.mark.parametrize(
    "record, expected",
    [
        ('{"type":1,"target":"Send","arguments":[42,"x"]}', Invocation("Send", (42, "x"))),
        (
            '{"type":1,"invocationId":"123","target":"Send","arguments":[],"streamIds":["s1"]}',
            Invocation("Send", (), "123", ("s1",)),
        ),
        ('{"type":2,"invocationId":"123","item":null}', StreamItem("123", None)),
        ('{"type":3,"invocationId":"123"}', Completion("123")),
        ('{"type":3,"invocationId":"123","result":42}', Completion("123", 42, None, True)),
        ('{"type":3,"invocationId":"1","result":null}', Completion("1", None, None, True)),
        ('{"type":3,"invocationId":"1","error":"Unknown account"}', Completion("1", None, "Unknown account")),
        (
            '{"type":4,"invocationId":"0","target":"OpenOrders","arguments":["67d0"]}',
            StreamInvocation("0", "OpenOrders", ("67d0",)),
        ),
        ('{"type":5,"invocationId":"0"}', CancelInvocation("0")),
        ('{"type":6}', Ping()),
        ('{"type":7}', Close()),
        ('{"type":7,"error":"Server is shutting down."}', Close("Server is shutting down.")),
        (
            '{"type":7,"error":"Connection closed with an error.","allowReconnect":true}',
            Close("Connection closed with an error.", True),
        ),
        ('{"type":8,"sequenceId":3}', UnknownMessage(8)),
        ('{"type":9,"sequenceId":3}', UnknownMessage(9)),
        ('{"type":99}', UnknownMessage(99)),
        ('{"type":6,"headers":{"x":"y"},"extra":1}', Ping()),
    ],
)
def test_every_message_type(record: str, expected: object) -> None:
    assert parse_message(record) == expected
    assert parse_message(record.encode()) == expected


@pytest.mark.parametrize(
    "record, reason",
    [
        ('{"type":"2","invocationId":"0","item":[]}', "not a JSON number"),  # P-4
        ('{"type":true}', "not a JSON number"),
        ('{"invocationId":"0"}', "not a JSON number"),
        ('{"type":2,"invocationId":0,"item":[]}', "invocationId"),  # P-5: a string, not a number
        ('{"type":2,"invocationId":"0"}', "without an item"),
        ('{"type":3}', "invocationId"),
        ('{"type":3,"invocationId":"1","result":1,"error":"x"}', "both result and error"),
        ('{"type":3,"invocationId":"1","error":5}', "error is not a string"),
        ('{"type":4,"invocationId":"0","target":"OpenOrders"}', "arguments"),
        ('{"type":4,"invocationId":"0","arguments":[]}', "target"),
        ('{"type":1,"target":"x","arguments":[],"streamIds":[1]}', "streamIds"),
        ('{"type":5}', "invocationId"),
        ('{"type":7,"allowReconnect":"yes"}', "allowReconnect"),
        ("[1,2]", "not a JSON object"),
        ('{"type":2,', "not JSON"),
        ("", "not JSON"),
        (b'{"type":7,"error":"\xff"}', "not JSON"),
    ],
)
def test_malformed_records(record: str | bytes, reason: str) -> None:
    with pytest.raises(MalformedRecord, match=reason):
        parse_message(record)


def test_errors_never_echo_huge_payloads() -> None:
    huge = '{"type":"' + "A" * 100_000 + '"}'
    with pytest.raises(MalformedRecord) as info:
        parse_message(huge)
    assert len(str(info.value)) < 120
    with pytest.raises(MalformedRecord) as info:
        parse_message("{" + "x" * 100_000)
    assert len(str(info.value)) < 120


# -- the decoder -------------------------------------------------------------------------------
def test_decoder_happy_path_transcript() -> None:
    # §3.9, the server's side, one websocket frame per line.
    d = Decoder()
    out: list[object] = []
    # (not splitlines(): it also splits at 0x1E)
    for frame in text("ws_transcript_server.txt").rstrip("\n").split("\n"):
        d.feed(frame)
        out.extend(d)
    assert out == [
        HandshakeResponse(),
        StreamItem("0", []),
        Ping(),
        StreamItem("0", []),
        Completion("0"),
    ]
    assert d.handshake == HandshakeResponse()


def test_decoder_handshake_and_first_item_in_one_frame() -> None:
    d = Decoder()
    d.feed("{}\x1e" + text("ws_open_orders.txt"))
    first, second = list(d)
    assert first == HandshakeResponse()
    assert isinstance(second, StreamItem) and second.item[0]["side"] == "Buy"


def test_decoder_refused_handshake() -> None:
    d = Decoder()
    d.feed(text("ws_handshake_error.txt"))
    assert d.next_message() == HandshakeResponse(
        "Requested protocol 'messagepack' is not available."
    )
    assert d.next_message() is None


def test_decoder_goes_on_after_a_malformed_record() -> None:
    d = Decoder()
    d.feed('{}\x1e{"type":6}\x1e{"type":"6"}\x1e{"type":7}\x1e')
    assert d.next_message() == HandshakeResponse()
    assert d.next_message() == Ping()
    with pytest.raises(MalformedRecord):
        d.next_message()
    assert d.pending_records == 1
    assert list(d) == [Close()]
    assert d.next_message() is None


def test_decoder_reset_expects_a_new_handshake() -> None:
    d = Decoder()
    d.feed('{}\x1e{"type":6}\x1e{"type":')
    assert list(d) == [HandshakeResponse(), Ping()]
    d.reset()
    assert d.handshake is None
    d.feed('{}\x1e')  # the half record before the reset is gone
    assert list(d) == [HandshakeResponse()]


def test_a_stream_item_of_an_array_is_read_from_its_head_and_its_item_when_asked() -> None:
    record = '{"type":2,"invocationId":"7","item":[{"orderId":"A"},{"n":1.5}]}'
    for raw_record in (record, record.encode()):
        message = parse_message(raw_record)
        assert isinstance(message, StreamItem) and message.invocation_id == "7"
        assert message.record == raw_record
        assert message.item == [{"orderId": "A"}, {"n": 1.5}]
        assert message == StreamItem("7", [{"orderId": "A"}, {"n": 1.5}])


@pytest.mark.parametrize(
    "record",
    [
        '{"type":2,"invocationId":"7","item":[{"orderId":]}',  # not JSON
        '{"type":2,"invocationId":"7","item":[],"type":3,"x":[]}',  # the last "type" counts
        '{"type":2,"invocationId":"7","item":[],"invocationId":"8","x":[]}',
    ],
)
def test_a_stream_item_whose_record_is_not_what_its_head_says_is_malformed_when_read(
    record: str,
) -> None:
    message = parse_message(record)
    assert isinstance(message, StreamItem)
    with pytest.raises(MalformedRecord):
        _ = message.item
