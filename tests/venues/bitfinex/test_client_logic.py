"""Client paths the simulator cannot easily reach, driven with a fake socket and a fake REST."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from blotter.core.cancel import CancelScope, Outcome, plan_cancels
from blotter.core.notices import Level, Notice, NoticeBus, StateBus
from blotter.core.order import AccountKey, Order, OrderStatus, Side, Upsert
from blotter.core.store import OrderStore
from blotter.venues.base import RestFailure
from blotter.venues.bitfinex.client import BitfinexClient

pytestmark = pytest.mark.timeout(20)

ACCOUNT = AccountKey("bitfinex", "fake")


def array(oid: int, gid: int | None = None, status: str = "ACTIVE") -> list[Any]:
    return [
        oid, gid, None, "tBTCUSD", 1700000000000, 1700000000001, 1, 1, "EXCHANGE LIMIT", None,
        None, None, 0, status, None, None, 100, 0, 0, 0, None, None, None, 0, 0, None, None,
        None, "API>BFX", None, None, None,
    ]


def row(oid: int) -> Order:
    return Order("bitfinex", "fake", str(oid), "tBTCUSD", Side.BUY, "EXCHANGE LIMIT",
                 Decimal(1), Decimal(1), OrderStatus.OPEN, "ACTIVE",
                 created_ms=1700000000000, updated_ms=1700000000001, price=Decimal(100))


class FakeSocket:
    """The authenticated socket as the venue treats it: inputs are kept in ``sent``, and a
    ping is answered with its pong (through ``answer``)."""

    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.answer: Callable[[bytes], None] | None = None

    async def send(self, message: bytes, text: bool | None = None) -> None:
        assert text is True
        msg = orjson.loads(message)
        if isinstance(msg, dict) and msg.get("event") == "ping":
            if self.answer is not None:
                pong = orjson.dumps({"event": "pong", "ts": 1, "cid": msg["cid"]})
                asyncio.get_running_loop().call_soon(self.answer, pong)
            return
        self.sent.append(msg)


class Harness:
    def __init__(self, tmp_path: Path, **options: Any) -> None:
        self.store, self.notices = OrderStore(), NoticeBus()
        self.said: list[Notice] = []
        self.notices.subscribe(self.said.append)
        self.client = BitfinexClient(
            ACCOUNT, rest_url="http://127.0.0.1:9", ws_url="ws://127.0.0.1:9/ws/2",
            api_key="k", api_secret="s", store=self.store, notices=self.notices,
            states=StateBus(), nonce_dir=tmp_path, **options,
        )
        self.socket = FakeSocket()
        self.socket.answer = self.client.handle_frame
        self.rest_open: list[list[Any]] | None = []  # what auth/r/orders answers (None: fails)
        self.rest_paths: list[str] = []

        async def fake_rest(path: str, body: dict[str, Any], retry_nonce: bool = True) -> Any:
            self.rest_paths.append(path)
            if self.rest_open is None:
                raise RestFailure("cannot reach Bitfinex", status=0)
            return self.rest_open

        self.client._rest.call = fake_rest  # type: ignore[method-assign]

    def stream_up(self) -> None:
        self.client._ws = self.socket  # type: ignore[assignment]
        self.client._authed = True
        self.client._live = True

    def feed(self, msg: Any) -> None:
        self.client.handle_frame(orjson.dumps(msg))

    def add(self, *ids: int) -> None:
        for oid in ids:
            self.store.apply(Upsert(row(oid)))

    def plan(self, scope: CancelScope) -> Any:
        (plan,) = plan_cancels(scope, self.store)
        return plan


async def test_no_confirmation_is_timed_out_and_the_row_restored(tmp_path: Path) -> None:
    h = Harness(tmp_path, cancel_timeout=0.2)
    h.stream_up()
    h.add(1)
    h.rest_open = [array(1)]  # the venue still lists it
    result = await asyncio.wait_for(h.client.cancel(h.plan(CancelScope.order(row(1).key))), 5)
    outcome = result.outcomes[row(1).key]
    assert outcome.outcome is Outcome.TIMED_OUT
    assert "no confirmation from Bitfinex within 0.2 s" in outcome.text
    assert "still open" in outcome.text
    assert not h.store.is_cancel_pending(row(1).key)
    assert row(1).key in h.store
    assert h.socket.sent == [[0, "oc", None, {"id": 1}]]
    assert h.rest_paths == ["auth/r/orders"]


async def test_timeout_with_the_venue_unreachable_says_state_unknown(tmp_path: Path) -> None:
    h = Harness(tmp_path, cancel_timeout=0.1)
    h.stream_up()
    h.add(1)
    h.rest_open = None
    result = await asyncio.wait_for(h.client.cancel(h.plan(CancelScope.order(row(1).key))), 5)
    outcome = result.outcomes[row(1).key]
    assert outcome.outcome is Outcome.TIMED_OUT and "state unknown" in outcome.text
    assert not h.store.is_cancel_pending(row(1).key)


async def test_timeout_resync_finds_the_order_gone(tmp_path: Path) -> None:
    h = Harness(tmp_path, cancel_timeout=0.1)
    h.stream_up()
    h.add(1, 2)
    h.rest_open = [array(2)]
    result = await asyncio.wait_for(h.client.cancel(h.plan(CancelScope.order(row(1).key))), 5)
    assert result.outcomes[row(1).key].outcome is Outcome.CLOSED
    assert row(1).key not in h.store and row(2).key in h.store


async def test_acks_correlate_by_id_and_errors_are_rejected(tmp_path: Path) -> None:
    h = Harness(tmp_path, cancel_timeout=2)
    h.stream_up()
    h.add(1, 2)
    one = asyncio.create_task(h.client.cancel(h.plan(CancelScope.order(row(1).key))))
    two = asyncio.create_task(h.client.cancel(h.plan(CancelScope.order(row(2).key))))
    await asyncio.sleep(0.01)
    assert h.store.is_cancel_pending(row(1).key) and h.store.is_cancel_pending(row(2).key)
    # answers out of order: 2 is refused, 1 is acknowledged then closed
    h.feed([0, "n", [1, "oc-req", None, None, array(2), None, "ERROR",
                     "Order could not be cancelled."]])
    h.feed([0, "n", [1, "oc-req", None, None, array(1), None, "SUCCESS", "Submitted"]])
    h.feed([0, "oc", array(1, status="CANCELED")])
    r1, r2 = await asyncio.wait_for(asyncio.gather(one, two), 5)
    assert r1.outcomes[row(1).key].outcome is Outcome.CANCELLED
    assert r2.outcomes[row(2).key].outcome is Outcome.REJECTED
    assert r2.outcomes[row(2).key].text == "Order could not be cancelled."
    assert row(2).key in h.store and not h.store.is_cancel_pending(row(2).key)
    assert [n.line() for n in h.said] == [
        "ERROR: Order could not be cancelled.", "SUCCESS: Submitted"
    ]
    assert h.said[0].level is Level.ERROR


async def test_multi_acks_match_the_request_they_fit(tmp_path: Path) -> None:
    h = Harness(tmp_path, cancel_timeout=2)
    h.stream_up()
    h.add(1, 2, 3, 4)
    first = asyncio.create_task(
        h.client.cancel(h.plan(CancelScope.selected([row(1).key, row(2).key])))
    )
    second = asyncio.create_task(
        h.client.cancel(h.plan(CancelScope.selected([row(3).key, row(4).key])))
    )
    await asyncio.sleep(0.01)
    # the venue answers the second input first; 4 was already gone there
    h.feed([0, "n", [1, "oc_multi-req", None, None, [array(3)], None, "SUCCESS",
                     "Submitting 1 order cancellations."]])
    h.feed([0, "n", [1, "oc_multi-req", None, None, [array(1), array(2)], None, "SUCCESS",
                     "Submitting 2 order cancellations."]])
    for oid in (1, 2, 3):
        h.feed([0, "oc", array(oid, status="CANCELED")])
    h.rest_open = []
    r1, r2 = await asyncio.wait_for(asyncio.gather(first, second), 5)
    assert {k.order_id: o.outcome for k, o in r1.outcomes.items()} == {
        "1": Outcome.CANCELLED, "2": Outcome.CANCELLED
    }
    assert {k.order_id: o.outcome for k, o in r2.outcomes.items()} == {
        "3": Outcome.CANCELLED, "4": Outcome.NOT_FOUND
    }


async def test_long_selections_are_chunked(tmp_path: Path) -> None:
    h = Harness(tmp_path, cancel_timeout=0.05)
    h.stream_up()
    ids = list(range(1, 451))
    h.add(*ids)
    h.rest_open = []
    await asyncio.wait_for(
        h.client.cancel(h.plan(CancelScope.selected([row(i).key for i in ids]))), 5
    )
    sizes = [len(m[3]["id"]) for m in h.socket.sent]
    assert sizes == [200, 200, 50]
    assert sorted(i for m in h.socket.sent for i in m[3]["id"]) == ids


async def test_resync_keeps_what_the_stream_changed_meanwhile(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.stream_up()
    h.add(1, 2)
    gate = asyncio.Event()

    async def slow_rest(path: str, body: dict[str, Any], retry_nonce: bool = True) -> Any:
        answer = [array(1), array(2)]  # taken before the stream's news below
        await gate.wait()
        return answer

    h.client._rest.call = slow_rest  # type: ignore[method-assign]
    resync = asyncio.create_task(h.client._resync())
    await asyncio.sleep(0.01)
    h.feed([0, "on", array(3)])  # new while the REST answer was on its way
    h.feed([0, "oc", array(2, status="CANCELED")])  # closed meanwhile
    gate.set()
    open_ids = await asyncio.wait_for(resync, 5)
    assert open_ids == {"1", "3"}
    assert {o.order_id for o in h.store.orders(ACCOUNT)} == {"1", "3"}


def test_secrets_stay_out_of_texts(tmp_path: Path) -> None:
    client = BitfinexClient(
        ACCOUNT, rest_url="http://127.0.0.1:9", ws_url="ws://127.0.0.1:9/ws/2",
        api_key="KEY-123", api_secret="SECRET-456", store=OrderStore(), notices=NoticeBus(),
        states=StateBus(), nonce_dir=tmp_path,
    )
    assert client._redact("bad KEY-123 and SECRET-456") == "bad *** and ***"
    assert "KEY-123" not in repr(client)


async def test_resync_between_ack_and_oc_waits_for_the_oc(tmp_path: Path) -> None:
    h = Harness(tmp_path, cancel_timeout=2)
    h.stream_up()
    h.add(1, 2)
    task = asyncio.create_task(h.client.cancel(h.plan(CancelScope.order(row(1).key))))
    await asyncio.sleep(0.01)
    h.feed([0, "n", [1, "oc-req", None, None, array(1), None, "SUCCESS", "Submitted"]])
    h.rest_open = [array(2)]  # the venue already dropped 1 from its open orders
    assert await h.client._resync() == {"2"}
    assert row(1).key in h.store and h.store.is_cancel_pending(row(1).key)
    h.feed([0, "oc", array(1, status="CANCELED")])
    result = await asyncio.wait_for(task, 5)
    assert result.outcomes[row(1).key].outcome is Outcome.CANCELLED


async def test_closed_client_refuses_cancels(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.add(1)
    await h.client.close()
    result = await h.client.cancel(h.plan(CancelScope.order(row(1).key)))
    assert result.error and result.outcomes[row(1).key].outcome is Outcome.REJECTED
    assert not h.store.is_cancel_pending(row(1).key)
