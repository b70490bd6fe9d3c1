"""What the rest of the app knows of a venue without talking to it.

``Capabilities`` say which cancel primitives a venue has, so the window enables only what works
and says why the rest does not. ``MalformedFrame`` is the one error every venue parser raises
for input that breaks its protocol, so the clients and the tests treat bad input alike.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, ParamSpec, TypeVar

_P = ParamSpec("_P")
_R = TypeVar("_R")


@dataclass(frozen=True, slots=True)
class Capabilities:
    """The venue's native cancel primitives and safety features.

    ``group_cancel``: the venue cancels an order group in one request (Cancel Group is enabled).
    ``cancel_all``: the venue cancels everything of an account in one request (otherwise Cancel
    Account and Cancel All loop over the orders, which the client does itself).
    ``dead_man_switch``: the venue can cancel every order when the connection drops.
    ``group_cancel_reason``: the sentence shown for a disabled Cancel Group, in the trader's words.
    """

    group_cancel: bool
    cancel_all: bool
    dead_man_switch: bool
    group_cancel_reason: str = ""


class MalformedFrame(ValueError):
    """A frame, record or REST body that is not what the venue's protocol says.

    Raised only by the pure parsers; a client counts it, logs an excerpt and goes on, so one bad
    message never ends a stream. The text says what was wrong and never holds a secret or the
    whole payload.
    """


PARSE_ERRORS: Final = (
    LookupError,
    TypeError,
    ValueError,
    AttributeError,
    ArithmeticError,
    RecursionError,
)
"""What a parser may stumble on in input of the wrong shape; ``guarded`` turns these into
``MalformedFrame``."""

_TEXT_LIMIT: Final = 200


def guarded(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """``func`` with every parsing slip (``PARSE_ERRORS``) turned into ``MalformedFrame``
    naming the slip in at most 200 characters; a ``MalformedFrame`` passes as it is, anything
    else (a bug of ours) is not caught."""

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return func(*args, **kwargs)
        except MalformedFrame:
            raise
        except PARSE_ERRORS as exc:
            raise MalformedFrame(f"{type(exc).__name__}: {exc}"[:_TEXT_LIMIT]) from None

    return wrapper
