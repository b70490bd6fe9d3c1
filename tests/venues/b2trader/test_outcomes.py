"""A cancel's outcome is only ever what the venue said: a DELETE that had to be sent again (after
a 429, a 500, an expired token or a cut connection) and then finds the order gone never reads
"cancelled" — the order was filled while the client waited, and the receipt and the row both say
so; without a word on how it ended, the receipt says "closed, how unknown"."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from blotter.core.cancel import CancelScope, Outcome
from blotter.core.closes import CloseReason
from blotter.sim.b2trader import B2traderSimulator
from tests.helpers import until
from tests.venues.b2trader.env import Env, connected
from tests.venues.harness import live

pytestmark = pytest.mark.timeout(30)


def rate_limited(sim: B2traderSimulator) -> None:
    sim.retry_after = 0
    sim.force_status(429, "problem")


def server_error(sim: B2traderSimulator) -> None:
    sim.force_status(500, "problem")


def token_expired(sim: B2traderSimulator) -> None:
    sim.expire_tokens(close_hub=False)  # the next DELETE gets a 401; the client renews


def connection_cut(sim: B2traderSimulator) -> None:
    sim.cut_requests = 1


RETRY_PATHS: dict[str, Callable[[B2traderSimulator], None]] = {
    "429": rate_limited, "500": server_error, "401": token_expired, "cut": connection_cut,
}


async def cancel_one(env: Env, order_id: str) -> tuple[Outcome, str]:
    key = env.key(order_id)
    result = await asyncio.wait_for(env.client.cancel(env.plan(CancelScope.order(key))), 10)
    outcome = result.outcomes[key]
    return outcome.outcome, outcome.text


@pytest.mark.parametrize("delta", [False, True], ids=["snapshot", "delta"])
@pytest.mark.parametrize("path", list(RETRY_PATHS))
async def test_a_fill_while_the_cancel_waits_to_be_sent_again_is_reported_as_filled(
    path: str, delta: bool
) -> None:
    sim_options = {"initial_orders": 3, "delta_mode": delta, "close_on_token_expiry": False}
    async with connected(sim_options, delta=delta) as env:
        await live(env)
        target = next(iter(env.rows()))
        env.sim.fill_after_refusal = True  # the order fills right after the first refusal
        RETRY_PATHS[path](env.sim)
        outcome, text = await cancel_one(env, target)
        assert env.sim.order(target)["status"] == "Completed"  # type: ignore[index]
        assert len(env.sim.cancel_requests) == 2  # refused once, then sent again
        assert outcome is Outcome.FILLED, text
        assert "cancelled" not in text
        assert target not in env.rows()
        closed = env.store.closed[-1]
        assert closed.order.order_id == target and closed.reason is CloseReason.FILLED
        await until(env.equal)


@pytest.mark.parametrize("delta", [False, True], ids=["snapshot", "delta"])
async def test_gone_without_a_word_on_how_is_closed_how_unknown(delta: bool) -> None:
    async with connected({"initial_orders": 3, "delta_mode": delta}, delta=delta) as env:
        await live(env)
        target = next(iter(env.rows()))
        env.sim.fill_after_refusal = True
        env.sim.retry_after = 0
        env.sim.force_status(429, "problem")
        env.sim.force_status(404, "empty")  # the repeated DELETE: gone, nothing said
        outcome, text = await cancel_one(env, target)
        if delta:  # the stream said it filled while the DELETE waited: that is the outcome
            assert outcome is Outcome.FILLED, text
        else:  # a complete list only says it is gone
            assert outcome is Outcome.CLOSED, text
            assert text == f"Order {target}: closed, how unknown (the repeated request found it gone)"
        await until(lambda: target not in env.rows())  # a fresh list takes the row away
        closed = env.store.closed[-1]
        assert closed.order.order_id == target
        assert closed.reason is (CloseReason.FILLED if delta else CloseReason.VANISHED)
        await until(env.equal)


async def test_a_list_without_the_order_does_not_take_the_row_before_the_cancel_answers() -> None:
    # The hub pushes the list without the cancelled order before the DELETE's 200 is read:
    # the row still leaves as "cancelled by you", as the 200 says, not as closed while unseen.
    async with connected({"initial_orders": 3}) as env:
        await live(env)
        target = next(iter(env.rows()))
        env.sim.reply_delay = 0.2  # the answer comes well after the list
        outcome, _ = await cancel_one(env, target)
        assert outcome is Outcome.CANCELLED
        closed = env.store.closed[-1]
        assert closed.order.order_id == target
        assert closed.reason is CloseReason.CANCELLED_BY_YOU
        assert env.equal()
