"""What the rest of the app knows of a venue without talking to it.

``Capabilities`` say which cancel primitives a venue has, so the window enables only what works
and says why the rest does not. ``MalformedFrame`` is the one error every venue parser raises
for input that breaks its protocol, so the clients and the tests treat bad input alike.
"""

from __future__ import annotations

from dataclasses import dataclass


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
