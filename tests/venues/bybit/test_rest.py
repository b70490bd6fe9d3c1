"""The signed REST caller against the Bybit simulator over loopback: the venue's clock, the open
orders of every scope, the rate budget (10006, HTTP 429), and failures in the one RestFailure
shape, never holding a secret."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest

from blotter.core.notices import Level, Notice, NoticeBus
from blotter.core.order import AccountKey, Order, OrderStatus
from blotter.sim.bybit import BybitSimulator
from blotter.venues.base import RestFailure
from blotter.venues.bybit import replies, requests
from blotter.venues.bybit.orders import parse_order
from blotter.venues.bybit.replies import VenueReply
from blotter.venues.bybit.rest import RestCaller
from blotter.venues.net import rest_client

pytestmark = pytest.mark.timeout(30)

KEY, SECRET = "bybit-rest-key", "bybit-rest-secret"
ACCOUNT = AccountKey("bybit", "rest")


@dataclass
class Rest:
    sim: BybitSimulator
    caller: RestCaller
    notices: list[Notice] = field(default_factory=list)


def caller_for(origin: str, http: list[httpx.AsyncClient], bus: NoticeBus,
               secret: str = SECRET) -> RestCaller:
    def client() -> httpx.AsyncClient:
        if not http:
            http.append(rest_client(origin, True, 5.0))
        return http[0]

    return RestCaller(
        ACCOUNT, client, api_key=KEY, api_secret=secret, recv_window=5000,
        redact=lambda text: text.replace(KEY, "***").replace(secret, "***"), notice_bus=bus,
        log=logging.getLogger("blotter.venues.bybit"),
    )


@pytest.fixture
async def rest() -> AsyncIterator[Rest]:
    sim = BybitSimulator(api_key=KEY, api_secret=SECRET, seed=5, initial_orders=8)
    await asyncio.wait_for(sim.start(), 10)
    http: list[httpx.AsyncClient] = []
    bus = NoticeBus()
    env = Rest(sim, caller_for(sim.rest_url, http, bus))
    bus.subscribe(env.notices.append)
    try:
        yield env
    finally:
        for client in http:
            await client.aclose()
        await asyncio.wait_for(sim.stop(), 10)


async def test_the_venues_clock_is_what_requests_are_signed_with(rest: Rest) -> None:
    rest.sim.clock_skew = -3.0
    offset = await rest.caller.sync_clock()
    assert -3500 < offset < -2500 and rest.caller.clock_offset_ms == offset
    assert not rest.caller.clock_due()  # just read
    reply = replies.parse_reply(await rest.caller.call(
        "GET", requests.PATH_OPEN_ORDERS, query=requests.open_orders_query("spot")
    ))
    assert reply.ok  # signed on the venue's clock: inside its window


async def test_a_clock_that_moved_is_read_again_on_10002(rest: Rest) -> None:
    await rest.caller.sync_clock()
    rest.sim.clock_skew = -3.0  # our timestamps are now 3 s ahead of the venue's
    reply = replies.parse_reply(await rest.caller.call(
        "GET", requests.PATH_OPEN_ORDERS, query=requests.open_orders_query("option")
    ))
    assert reply.ok
    assert -3500 < rest.caller.clock_offset_ms < -2500


async def test_every_open_order_of_every_scope_page_by_page(rest: Rest) -> None:
    for n in range(60):  # more than one page (50) in one scope
        rest.sim.place_order("linear", "BTCUSDT", "Buy", "0.01", 50_000 + n, push=False)
    rest.sim.place_order("linear", "BTCPERP", "Buy", "0.01", 50_000, push=False)  # USDC
    read = await rest.caller.open_orders(requests.OPEN_ORDER_SCOPES)
    orders, unreadable = read.orders, read.unreadable
    assert unreadable == ()
    assert sorted(o.order_id for o in orders) == sorted(
        d["orderId"] for d in rest.sim.open_orders()
    )
    assert len(orders) == 69
    only_usdt = (await rest.caller.open_orders([("linear", "USDT")])).orders
    assert {o.symbol for o in only_usdt if o.category == "linear"} >= {"BTCUSDT"}
    assert "BTCPERP" not in {o.symbol for o in only_usdt}


async def test_a_refused_key_is_the_venues_reply(rest: Rest) -> None:
    rest.sim.refuse_key = True
    with pytest.raises(RestFailure) as caught:
        await rest.caller.open_orders(requests.OPEN_ORDER_SCOPES)
    failure = caught.value
    assert failure.text == "10003: API key is invalid."
    assert failure.reply == VenueReply(10003, "API key is invalid.", failure.reply.time_ms)
    assert failure.status == 0


async def test_http_refusals_and_an_unreachable_venue(rest: Rest) -> None:
    rest.sim.force_http_status = [401]
    with pytest.raises(RestFailure) as caught:
        await rest.caller.call("POST", requests.PATH_CANCEL, body={"category": "spot"})
    assert caught.value.status == 401 and caught.value.reply is None
    assert caught.value.text.startswith("HTTP 401 from Bybit on /v5/order/cancel: the API key")
    origin = rest.sim.rest_url
    await rest.sim.stop()
    http: list[httpx.AsyncClient] = []
    gone = caller_for(origin, http, NoticeBus())
    try:
        with pytest.raises(RestFailure) as caught:
            await gone.sync_clock()
    finally:
        for client in http:
            await client.aclose()
    assert caught.value.text.startswith("cannot reach Bybit: ")
    assert (caught.value.status, caught.value.reply) == (0, None)
    assert KEY not in caught.value.text and SECRET not in caught.value.text


async def test_a_spent_rate_budget_waits_and_says_so_once(rest: Rest) -> None:
    rest.sim.force_rate_limit = 2
    reply = replies.parse_reply(await rest.caller.call(
        "GET", requests.PATH_OPEN_ORDERS, query=requests.open_orders_query("spot")
    ))
    assert reply.ok  # sent again once the budget was back
    (notice,) = rest.notices
    assert notice.level is Level.INFO and notice.status == "10006"
    assert notice.text.startswith(
        "Too many visits!: rate limit reached on /v5/order/realtime; sending again in "
    )
    rest.sim.force_http_status = [429]
    reply = replies.parse_reply(await rest.caller.call(
        "GET", requests.PATH_OPEN_ORDERS, query=requests.open_orders_query("spot")
    ))
    assert reply.ok
    assert rest.notices[-1].line().startswith("HTTP 429 (system busy): rate limit reached on ")


async def test_the_key_is_taken_out_of_the_venues_words(rest: Rest) -> None:
    echoed = VenueReply(10004, f"error sign! origin_string[1700000000000{KEY}5000{{}}]")
    assert rest.caller.clean(echoed).ret_msg == "error sign! origin_string[1700000000000***5000{}]"
    plain = VenueReply(110001, "Order does not exist")
    assert rest.caller.clean(plain) is plain
    assert KEY not in repr(rest.caller) and SECRET not in repr(rest.caller)


async def test_orders_are_looked_up_by_id_open_or_closed_or_unknown(rest: Rest) -> None:
    def row(order_id: str) -> Order:
        d = rest.sim.order(order_id)
        assert d is not None
        return parse_order(d, ACCOUNT, d["category"])

    spot = rest.sim.place_order("spot", "BTCUSDT", "Buy", "0.01", "40000", push=False)
    linear = rest.sim.place_order("linear", "BTCUSDT", "Buy", "0.01", "50000", push=False)
    gone = rest.sim.place_order("linear", "ETHUSDT", "Buy", "1", "3000", push=False)
    shown = {oid: row(oid) for oid in (spot, linear, gone)}
    rest.sim.fill(linear)
    rest.sim.cancel_external(spot, "CancelByAdmin")
    del rest.sim._orders[gone]  # unknown to the venue from now on
    found = await rest.caller.orders_by_id(shown.values(), logging.getLogger("test"))
    assert set(found) == {spot, linear}
    assert found[linear].status is OrderStatus.FILLED
    assert found[spot].status_text == "Cancelled · CancelByAdmin · EC_PerCancelRequest"
    assert await rest.caller.order_by_id(shown[gone]) is None
    rest.sim._closed["spot"].clear()  # spot answers an unknown id with 170213: also none
    assert await rest.caller.order_by_id(shown[spot]) is None
