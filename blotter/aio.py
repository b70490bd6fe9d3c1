"""Start a coroutine now, in the caller's turn of the event loop, and let a Task finish it.

A click's cancel must reach the socket before the window repaints: a task created the usual way
only starts after every event Qt has already queued (a repaint of the table can take tens of
milliseconds). Python 3.12's eager tasks do exactly this; on 3.11 the coroutine's first step is
run here and the rest is handed to an ordinary Task.

Until its first suspension the coroutine runs outside any task: ``asyncio.current_task()`` is
None there, so that part must not use ``asyncio.timeout()``. The cancel path's first step is
planning and writing one frame, which needs neither.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
import types
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

T = TypeVar("T")


def start_eagerly(
    coro: Coroutine[Any, Any, T], loop: asyncio.AbstractEventLoop | None = None
) -> asyncio.Future[T]:
    loop = loop or asyncio.get_running_loop()
    if sys.version_info >= (3, 12):
        return asyncio.Task(coro, loop=loop, eager_start=True)  # type: ignore[call-arg]
    # The first step and the rest run in one context, as in a Task: a context variable set in
    # the first step (the engine's action id) is the same one the later steps read and reset,
    # and it never leaks into the caller's context.
    context = contextvars.copy_context()
    try:
        yielded = context.run(coro.send, None)
    except StopIteration as stop:
        done: asyncio.Future[T] = loop.create_future()
        done.set_result(stop.value)
        return done
    except asyncio.CancelledError:
        cancelled: asyncio.Future[T] = loop.create_future()
        cancelled.cancel()
        return cancelled
    except Exception as exc:  # noqa: BLE001 - handed to the awaiter, as a Task would
        failed: asyncio.Future[T] = loop.create_future()
        failed.set_exception(exc)
        return failed
    return loop.create_task(_finish(coro, yielded), context=context)


async def _finish(coro: Coroutine[Any, Any, T], yielded: Any) -> T:
    return await _drive(coro, yielded)


@types.coroutine
def _drive(coro: Coroutine[Any, Any, T], yielded: Any) -> Generator[Any, Any, T]:
    """Hand what the coroutine yields (a future to wait for) to the Task, and back again."""
    while True:
        try:
            sent = yield yielded
        except BaseException as exc:  # noqa: BLE001 - the Task's cancellation goes to coro
            try:
                yielded = coro.throw(exc)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
        else:
            try:
                yielded = coro.send(sent)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
