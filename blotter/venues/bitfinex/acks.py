"""Which cancel input a Bitfinex acknowledgement answers, and what follows from it; pure.

Every cancel input is answered by one notification (bitfinex.md §3.4, §4): ``oc-req`` for an
``oc``, ``oc_multi-req`` for an ``oc_multi``; a REST cancel gets the same notification as its
body. ``oc-req`` lists the order it concerns (an ERROR stub keeps at least the id, or the cid of
a cid cancel; before 2019 it kept neither, so such a stub answers the oldest single input).
``oc_multi-req`` does not echo the request, only the orders it takes: it answers the oldest input
it fits.

An acknowledgement is not a cancel: an acknowledged order stays until its ``oc`` says how it
closed (cancelled, or filled first). What an answer settles at once is only what the venue
stated: an asked order it did not list, or one it refused, with its text.

``AckBook`` keeps the inputs in flight (``requests.CancelInput``) and the acknowledged orders
whose close has not come; the client owns the futures and the I/O around it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Final, NamedTuple

from blotter.core.cancel import Outcome
from blotter.core.order import AccountKey, Order, OrderKey
from blotter.venues.bitfinex.notices import is_not_found
from blotter.venues.bitfinex.replies import ERR_AUTH_FAIL, ERR_RATE_LIMIT, Notification
from blotter.venues.bitfinex.requests import CancelInput

ABSENT_FROM_ACK: Final = "not open at Bitfinex (absent from the cancel acknowledgement)"
ACKED_THEN_GONE: Final = (
    "cancel acknowledged by Bitfinex; the order is no longer open (its final status was not "
    "received while the stream was down)"
)


class Settled(NamedTuple):
    """An asked order's cancel, ended by what the venue said (or by its silence)."""

    key: OrderKey
    outcome: Outcome
    text: str


@dataclass(frozen=True, slots=True)
class Answer:
    """What one answer means for the input it answers.

    ``text``: the venue's words ("" when it said none); ``acknowledged``: orders the venue took
    to cancel (their ``oc`` still says how they closed); ``track``: orders the venue cancels
    too, though they were not asked (wait for their close as well); ``settled``: asked orders
    whose cancel ends here; ``error``: the input itself failed, with nothing asked to settle (or
    the venue refused the call as such); ``resync``: the rows may be wrong, re-read the open
    orders.
    """

    text: str = ""
    acknowledged: tuple[OrderKey, ...] = ()
    track: tuple[Order, ...] = ()
    settled: tuple[Settled, ...] = ()
    error: str | None = None
    resync: bool = False


class AckBook:
    """The cancel inputs of one account in flight, and its acknowledged cancels not yet closed.

    ``expect`` an input before it is sent (its answer may come before the send returns);
    ``match`` each ``n`` to the input it answers, and ``answer`` it. ``acknowledged`` holds the
    orders the venue accepted to cancel whose close has not been seen.
    """

    def __init__(self, account: AccountKey) -> None:
        self._account = account
        self._single: deque[CancelInput] = deque()
        self._multi: deque[CancelInput] = deque()
        self.acknowledged: set[OrderKey] = set()

    def expect(self, sent: CancelInput) -> None:
        """``sent`` goes out now: its answer is awaited."""
        (self._multi if sent.multi else self._single).append(sent)

    def withdraw(self, sent: CancelInput) -> None:
        """``sent`` never reached the venue: no answer will come for it."""
        queue = self._multi if sent.multi else self._single
        if sent in queue:
            queue.remove(sent)

    def drop(self) -> list[CancelInput]:
        """The socket is gone: no answer will come for the inputs in flight; they are returned
        (a fresh snapshot decides what happened to their orders)."""
        dropped = [*self._single, *self._multi]
        self._single.clear()
        self._multi.clear()
        return dropped

    def match(self, n: Notification) -> CancelInput | None:
        """The input ``n`` answers, taken off the book; None when it answers none of ours."""
        if n.kind == "oc-req":
            return self._match_single(n)
        if n.kind == "oc_multi-req":
            return self._match_multi(n)
        return None

    def _match_single(self, n: Notification) -> CancelInput | None:
        queue = self._single
        if not queue:
            return None
        oid = n.order_ids[0] if n.order_ids else None
        cid = n.client_ids[0] if n.client_ids else None
        for sent in queue:
            if (oid is not None and sent.order_id == oid) or (cid is not None and sent.cid == cid):
                queue.remove(sent)
                return sent
        if not n.ok and oid is None and cid is None:
            return queue.popleft()  # an old-style stub without the id: the oldest input
        return None

    def _match_multi(self, n: Notification) -> CancelInput | None:
        queue = self._multi
        listed = set(n.order_ids)
        for sent in queue:
            if sent.track_new and sent.gid is None:
                fits = True  # all: anything fits
            elif sent.gid is not None:
                fits = all(o.group_id == sent.gid for o in n.orders)
            else:
                fits = listed <= {o.order_id for o in sent.asked}
            if fits:
                queue.remove(sent)
                return sent
        return None

    def answer(self, sent: CancelInput, n: Notification) -> Answer:
        """What ``n`` (on the socket, or a REST body) says for ``sent``.

        SUCCESS: the listed orders are acknowledged (their close is still to come); an asked
        order it does not list is not open at the venue. Anything else refuses every asked
        order with the venue's text ("not found" when it says so).
        """
        if not n.ok:
            refused = refusal(sent, n.text or n.status or "refused")
            return replace(refused, text=n.text)  # the result quotes only what the venue said
        asked = {o.order_id for o in sent.asked}
        track: tuple[Order, ...] = ()
        if sent.track_new:
            track = tuple(o for o in n.orders if o.order_id not in asked)
        waited = asked | {o.order_id for o in track}
        venue, account = self._account.venue, self._account.account
        acknowledged = tuple(
            OrderKey(venue, account, oid) for oid in n.order_ids if oid in waited
        )
        self.acknowledged.update(acknowledged)
        listed = set(n.order_ids)
        missing = tuple(
            Settled(o.key, Outcome.NOT_FOUND, ABSENT_FROM_ACK)
            for o in sent.asked if o.order_id not in listed
        )
        return Answer(text=n.text, acknowledged=acknowledged, track=track, settled=missing,
                      resync=bool(missing))

    def gone(self, open_ids: set[str]) -> list[Settled]:
        """Acknowledged cancels whose order is no longer open although its ``oc`` never came.

        The venue accepted the cancel, so the order most likely went by it; a fill in between
        cannot be ruled out, so the outcome is CLOSED, with words that say so.
        """
        keys = [k for k in self.acknowledged if k.order_id not in open_ids]
        self.acknowledged.difference_update(keys)
        return [Settled(k, Outcome.CLOSED, ACKED_THEN_GONE) for k in keys]

    def forget(self, keys: Iterable[OrderKey]) -> None:
        """These cancels are settled: their acknowledgement no longer matters."""
        self.acknowledged.difference_update(keys)


def refusal(
    sent: CancelInput, text: str, *, status: int | None = None, code: int | None = None
) -> Answer:
    """What a refusal of ``sent`` means: an ERROR notification (``status`` None), or a failed
    REST call (its HTTP ``status``, 0 when the venue was not reached, and the venue's ``code``).

    Every asked order is refused with the venue's text, or is not found when the text says so
    (then the rows are re-read). The input as such failed when a notification refused it with
    nothing asked, or when a REST call could not reach the venue, was rate limited, or had its
    key refused.
    """
    not_found = is_not_found(text)
    error = None
    if status is None:
        if not sent.asked:
            error = text  # nothing known to resolve: the input itself failed
    elif not not_found and (status in (0, 429) or code in (ERR_AUTH_FAIL, ERR_RATE_LIMIT)):
        error = text
    outcome = Outcome.NOT_FOUND if not_found else Outcome.REJECTED
    settled = tuple(Settled(o.key, outcome, text) for o in sent.asked)
    return Answer(text=text, settled=settled, error=error, resync=not_found)


def after_timeout(
    keys: Iterable[OrderKey], open_ids: set[str] | None, timeout: float
) -> list[Settled]:
    """Cancels still unanswered after ``timeout`` seconds, once the open orders were re-read
    (``open_ids``; None when the venue could not be asked): gone is CLOSED (how is unknown),
    still open or unknown is TIMED_OUT, with words that say which."""
    settled: list[Settled] = []
    for key in keys:
        if open_ids is None:
            settled.append(Settled(
                key, Outcome.TIMED_OUT,
                f"no confirmation from Bitfinex within {timeout:g} s, and the open orders "
                "could not be re-read; state unknown",
            ))
        elif key.order_id not in open_ids:
            settled.append(Settled(key, Outcome.CLOSED, "no longer open at Bitfinex"))
        else:
            settled.append(Settled(
                key, Outcome.TIMED_OUT,
                f"no confirmation from Bitfinex within {timeout:g} s; the order is still open "
                "at the venue",
            ))
    return settled
