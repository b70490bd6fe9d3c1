"""A fresh list of trading accounts' open orders on an account hub connection of its own (I/O).

The venue has no REST list of open orders (§2.3): the first item of an ``OpenOrders``
subscription is the only fresh list there is. A cancel of everything asks for one before its
DELETEs, so orders not shown yet go too; while the client's own hub connection is down (or
silent) it is read here: connect, handshake, subscribe each trading account, keep each one's
first list, close. Every way it fails is a ``ListFailure`` with the reason in the trader's words.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

from blotter.core.order import AccountKey
from blotter.core.venue import MalformedFrame
from blotter.venues.b2trader import signalr
from blotter.venues.b2trader.hub import HubSocket
from blotter.venues.b2trader.stream import (
    HubClosed,
    ListWaiting,
    OrderList,
    StreamEnded,
    StreamParser,
)
from blotter.venues.base import SessionEnd


class ListFailure(Exception):
    """No fresh list could be read: ``str()`` says why, in the trader's words."""


async def read_first_lists(
    url: str,
    login: AccountKey,
    keys: Mapping[str, AccountKey],
    *,
    timeout: float,
    redact: Callable[[str], str],
    unauthorized: Callable[[], None],
) -> list[OrderList]:
    """The first ``OpenOrders`` list of each trading account in ``keys`` (accountId → its
    key), read on a connection of its own to the hub at ``url`` (it holds the JWT: never
    shown) within ``timeout`` seconds, then closed. A list with orders that could not be read
    comes back as it is (``OrderList.unreadable``): the caller applies what it can.
    ``ListFailure`` when the hub could not be reached or did not list every account in time."""
    try:
        async with asyncio.timeout(timeout):
            return await _read(url, login, keys, timeout, redact, unauthorized)
    except TimeoutError:
        raise ListFailure(f"the account hub sent no complete lists within {timeout:g} s") from None
    except SessionEnd as end:
        raise ListFailure(end.reason) from None


async def _read(
    url: str,
    login: AccountKey,
    keys: Mapping[str, AccountKey],
    timeout: float,
    redact: Callable[[str], str],
    unauthorized: Callable[[], None],
) -> list[OrderList]:
    hub = await HubSocket.open(url, who=login, redact=redact, unauthorized=unauthorized)
    parser = StreamParser(login)
    parser.use_accounts(keys)
    parser.start()
    lists: dict[str, OrderList] = {}
    try:
        await hub.handshake(parser, min(signalr.HANDSHAKE_TIMEOUT_S, timeout))
        for trading_id in keys:
            await hub.send(parser.subscribe(trading_id))
        while True:
            _drain(parser, lists)
            if len(lists) == len(keys):
                return list(lists.values())
            parser.feed(await hub.recv())
    finally:
        await hub.close()


def _drain(parser: StreamParser, lists: dict[str, OrderList]) -> None:
    """Keep the first list of each account from what has arrived so far."""
    while True:
        try:
            event = parser.next_event()
        except MalformedFrame as exc:
            raise ListFailure(f"the account hub sent what cannot be read ({exc})") from None
        if event is None:
            return
        if type(event) is ListWaiting:
            try:
                taken = parser.take_list(event.trading_id)
            except MalformedFrame as exc:
                raise ListFailure(f"an order list could not be read ({exc})") from None
            if taken is not None:
                _keep(taken, lists)
        elif type(event) is OrderList:
            _keep(event, lists)
        elif type(event) is StreamEnded:
            raise ListFailure(
                f"the account hub ended the order stream of {event.name}"
                + (f": {event.error}" if event.error else "")
            )
        elif type(event) is HubClosed:
            raise ListFailure(event.reason)


def _keep(event: OrderList, lists: dict[str, OrderList]) -> None:
    # a first list, or one that came where the first was due but could not be read whole
    if (event.first or event.due_first) and event.trading_id not in lists:
        lists[event.trading_id] = event
