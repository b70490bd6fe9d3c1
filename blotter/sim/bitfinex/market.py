"""The simulated account's order book, which of its orders a cancel names, and the realistic
orders that populate it."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .orders import (
    FLAG_HIDDEN,
    FLAG_POST_ONLY,
    SimOrder,
    quantize_amount,
    round_price,
    to_decimal,
)


@dataclass(frozen=True)
class Market:
    symbol: str
    mid: Decimal
    size: Decimal  # a typical order size
    size_places: int  # decimals a trader would type for this market's amounts


MARKETS: tuple[Market, ...] = (
    Market("tBTCUSD", Decimal(97250), Decimal("0.05"), 4),
    Market("tETHUSD", Decimal("3415.2"), Decimal("0.8"), 3),
    Market("tSOLUSD", Decimal("186.37"), Decimal(12), 2),
    Market("tXRPUSD", Decimal("2.3541"), Decimal(800), 0),
    Market("tLTCUSD", Decimal("104.12"), Decimal(6), 2),
    Market("tDOGE:UST", Decimal("0.38215"), Decimal(5000), 0),
    Market("tBTCUST", Decimal(97231), Decimal("0.05"), 4),
    Market("tETHBTC", Decimal("0.035123"), Decimal("1.5"), 3),
)


HISTORY_KEPT = 10_000  # closed orders the order history remembers


class OrderBook:
    """Open orders of the one simulated user, keyed by ID (insertion order = creation order),
    and the final arrays of the orders that closed (the order history, oldest first)."""

    def __init__(self, rng: random.Random, first_id: int) -> None:
        self.rng = rng
        self.orders: dict[int, SimOrder] = {}
        self.history: dict[int, list[Any]] = {}
        self._next_id = first_id
        self._next_gid = rng.randint(1, 400)
        self._last_cid = 0

    # --- identifiers -------------------------------------------------------------------------

    def new_id(self) -> int:
        # Real IDs grow with gaps (other users' orders in between).
        self._next_id += self.rng.randint(1, 40)
        return self._next_id

    def new_gid(self) -> int:
        self._next_gid += self.rng.randint(1, 7)
        return self._next_gid

    def new_cid(self, mts: int) -> int:
        # The website uses the creation time in ms as CID; keep them unique anyway.
        self._last_cid = max(self._last_cid + 1, mts)
        return self._last_cid

    # --- lookups -----------------------------------------------------------------------------

    def get(self, order_id: object) -> SimOrder | None:
        key = as_int(order_id)
        return None if key is None else self.orders.get(key)

    def by_cid(self, cid: object, cid_date: object) -> SimOrder | None:
        key = as_int(cid)
        if key is None or not isinstance(cid_date, str):
            return None
        for order in self.orders.values():
            if order.cid == key and order.cid_date == cid_date:
                return order
        return None

    def by_gids(self, gids: Iterable[int]) -> list[SimOrder]:
        wanted = set(gids)
        return [o for o in self.orders.values() if o.gid is not None and o.gid in wanted]

    def resolve_one(
        self, payload: Any
    ) -> tuple[SimOrder | None, int | None, int | None, str | None]:
        """(order, stub id, stub cid, error text) for a single-cancel payload (notes §4.1)."""
        if not isinstance(payload, dict):
            return None, None, None, "id: invalid"
        if "id" in payload:
            order_id = as_int(payload["id"])
            if order_id is None:
                return None, None, None, "id: invalid"
            return self.get(order_id), order_id, None, None
        if "cid" in payload:
            cid = as_int(payload["cid"])
            if cid is None:
                return None, None, None, "cid: invalid"
            cid_date = payload.get("cid_date")
            if not isinstance(cid_date, str) or not cid_date:
                return None, None, cid, "cid_date: invalid"
            return self.by_cid(cid, cid_date), None, cid, None
        return None, None, None, "id: invalid"

    def resolve_many(self, payload: Any) -> tuple[list[SimOrder], str | None]:
        """Live orders matched by an `oc_multi` payload (id / cid pairs / gid / all), deduplicated.
        Unknown IDs are skipped: only matched orders are listed (notes §4.2)."""
        if not isinstance(payload, dict) or not any(
            k in payload for k in ("id", "cid", "gid", "all")
        ):
            return [], "id: invalid"
        found: list[SimOrder] = []
        if "id" in payload:
            ids = int_list(payload["id"])
            if ids is None:
                return [], "id: invalid"
            found += [o for o in (self.get(i) for i in ids) if o is not None]
        if "cid" in payload:
            pairs = payload["cid"]
            if not isinstance(pairs, list) or not all(
                isinstance(p, list) and len(p) == 2 for p in pairs
            ):
                return [], "cid: invalid"
            found += [o for o in (self.by_cid(c, d) for c, d in pairs) if o is not None]
        if "gid" in payload:
            gids = int_list(payload["gid"])
            if gids is None:
                return [], "gid: invalid"
            found += self.by_gids(gids)
        if "all" in payload:
            if payload["all"] not in (1, True):
                return [], "all: invalid"
            found += list(self.orders.values())
        unique: dict[int, SimOrder] = {}
        for order in found:
            unique.setdefault(order.id, order)
        return list(unique.values()), None

    def add(self, order: SimOrder) -> None:
        self.orders[order.id] = order

    def remove(self, order_id: int) -> SimOrder | None:
        return self.orders.pop(order_id, None)

    def closed(self, array: list[Any]) -> None:
        """An order closed with this final array: the order history keeps it."""
        self.history.pop(array[0], None)
        self.history[array[0]] = array
        while len(self.history) > HISTORY_KEPT:
            del self.history[next(iter(self.history))]

    # --- realistic orders --------------------------------------------------------------------

    def make_order(
        self,
        symbol: str,
        amount: float | str | Decimal,
        price: float | str | Decimal,
        *,
        mts: int,
        gid: int | None = None,
        cid: int | None = None,
        order_type: str = "EXCHANGE LIMIT",
        flags: int = 0,
        routing: str = "API>BFX",
        price_aux_limit: float | str | Decimal = 0,
    ) -> SimOrder:
        qty = quantize_amount(amount)
        if qty == 0:
            raise ValueError("order amount must not be zero")
        meta: dict[str, int] | None = {} if routing == "BFX" else None
        if flags & FLAG_POST_ONLY:
            meta = {"$F7": 1}
        return SimOrder(
            id=self.new_id(),
            gid=gid,
            cid=cid if cid is not None else self.new_cid(mts),
            symbol=symbol,
            mts_create=mts,
            mts_update=mts + self.rng.randint(1, 30),
            amount=qty,
            amount_orig=qty,
            order_type=order_type,
            price=round_price(price),
            flags=flags,
            price_aux_limit=round_price(price_aux_limit),
            routing=routing,
            meta=meta,
        )

    def random_orders(self, mts: int, *, allow_group: bool = True) -> list[SimOrder]:
        """One trader action: a single order, or a ladder of 2–4 sharing a GID."""
        rng = self.rng
        market = rng.choice(MARKETS)
        buy = rng.random() < 0.5
        grouped = allow_group and rng.random() < 0.45
        count = rng.randint(2, 4) if grouped else 1
        gid = self.new_gid() if grouped else None
        routing = "BFX" if rng.random() < 0.4 else "API>BFX"
        order_type = rng.choices(
            ["EXCHANGE LIMIT", "LIMIT", "EXCHANGE STOP LIMIT"], weights=[85, 12, 3]
        )[0]
        flags = rng.choices([0, FLAG_HIDDEN, FLAG_POST_ONLY, FLAG_HIDDEN | FLAG_POST_ONLY],
                            weights=[75, 10, 12, 3])[0]
        if order_type.endswith("STOP LIMIT"):
            flags &= ~FLAG_POST_ONLY  # post-only applies to resting limit orders
        distance = Decimal(str(round(rng.uniform(0.002, 0.03), 4)))
        step = Decimal(str(round(rng.uniform(0.002, 0.01), 4)))
        orders = []
        for i in range(count):
            offset = distance + step * i
            # limits rest away from the market; stops wait on the other side of it
            above = (not buy) != order_type.endswith("STOP LIMIT")
            price = market.mid * (1 + offset if above else 1 - offset)
            aux: Decimal = Decimal(0)
            if order_type.endswith("STOP LIMIT"):
                aux = price * (Decimal("1.002") if buy else Decimal("0.998"))
            size = market.size * to_decimal(round(rng.uniform(0.2, 3.0), 3))
            size = max(size.quantize(Decimal(1).scaleb(-market.size_places)),
                       Decimal(1).scaleb(-market.size_places))
            orders.append(
                self.make_order(
                    market.symbol,
                    size if buy else -size,
                    price,
                    mts=mts + i * rng.randint(1, 15),
                    gid=gid,
                    order_type=order_type,
                    flags=flags,
                    routing=routing,
                    price_aux_limit=aux,
                )
            )
        return orders

    def random_fill_amount(self, order: SimOrder) -> Decimal:
        """A partial fill strictly between zero and the remaining amount (magnitude)."""
        remaining = abs(order.amount)
        part = remaining * to_decimal(round(self.rng.uniform(0.1, 0.6), 2))
        places = next((m.size_places for m in MARKETS if m.symbol == order.symbol), 4)
        part = part.quantize(Decimal(1).scaleb(-places))
        if part <= 0 or part >= remaining:
            part = quantize_amount(remaining / 2)
        return part


def as_int(value: object) -> int | None:
    """IDs arrive as JSON numbers, or as digit strings from lenient clients."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def int_list(value: Any) -> list[int] | None:
    """One ID or a list of them, as integers; None if any is not an integer."""
    items: Iterable[Any] = value if isinstance(value, list) else [value]
    out = [as_int(v) for v in items]
    if any(v is None for v in out):
        return None
    return [v for v in out if v is not None]
