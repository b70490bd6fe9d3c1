"""start_eagerly: the first step runs in the caller's turn; the rest is an ordinary task."""

from __future__ import annotations

import asyncio

import pytest

from blotter.aio import start_eagerly


async def test_first_step_runs_before_start_eagerly_returns():
    steps: list[str] = []

    async def job() -> int:
        steps.append("first")
        await asyncio.sleep(0)
        steps.append("second")
        fut = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(0.01, fut.set_result, 5)
        return await fut

    task = start_eagerly(job())
    assert steps == ["first"]
    assert await task == 5
    assert steps == ["first", "second"]


async def test_a_coroutine_that_never_suspends_is_done_at_once():
    async def job() -> str:
        return "done"

    task = start_eagerly(job())
    assert task.done() and task.result() == "done"


async def test_errors_reach_the_awaiter_from_either_part():
    async def early() -> None:
        raise ValueError("early")

    async def late() -> None:
        await asyncio.sleep(0)
        raise KeyError("late")

    with pytest.raises(ValueError):
        await start_eagerly(early())
    with pytest.raises(KeyError):
        await start_eagerly(late())


async def test_cancelling_the_task_cancels_the_coroutine():
    cleaned = asyncio.Event()

    async def job() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            cleaned.set()

    task = start_eagerly(job())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned.is_set()


async def test_a_context_variable_set_in_the_first_step_is_reset_in_a_later_one() -> None:
    # the engine tags a cancel's notices with its action id this way
    import contextvars

    var: contextvars.ContextVar[str | None] = contextvars.ContextVar("v", default=None)
    seen: list[str | None] = []

    async def work() -> str:
        token = var.set("action-1")
        try:
            await asyncio.sleep(0)
            seen.append(var.get())
            return "done"
        finally:
            var.reset(token)  # in another Context this raises ValueError

    task = start_eagerly(work())
    assert var.get() is None  # the caller's context never saw it
    assert await task == "done"
    assert seen == ["action-1"] and var.get() is None
