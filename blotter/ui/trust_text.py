"""How trust reads in the window: the connection light's words and hover text, the marker of an
unverified row, what a cancel of such a row will do, and the warnings of a Cancel All.

Pure functions of core types and a time ``now`` (epoch ms) handed in, so the status bar, the
table, the dialogs and the tests agree on every word.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from blotter.core.cancel import CancelPlan
from blotter.core.closes import ResyncDiff
from blotter.core.notices import AccountState, VenueState
from blotter.core.trust import AccountTrust

STATE_WORDS = {
    VenueState.CONNECTING: "connecting",
    VenueState.AUTHENTICATING: "authenticating",
    VenueState.LIVE: "live",
    VenueState.RECONNECTING: "reconnecting",
    VenueState.STALE: "stale",
    VenueState.FAILED: "failed",
    VenueState.STOPPED: "stopped",
}

# the states in which a client waits before its next try: "Reconnect now" cuts that wait short
WAITING = frozenset({VenueState.RECONNECTING, VenueState.FAILED})

# the lifecycle adds its wait to a refusal's words ("...; retrying in 30 s"); the window says
# the wait itself, counting down, so the venue's words are shown without it
_RETRY_SUFFIX = re.compile(r";\s*retrying in \d+(\.\d+)? s$")
LABEL_REASON_LIMIT = 70


def words(state: VenueState) -> str:
    """The state in one word: "live", "reconnecting"."""
    return STATE_WORDS.get(state, state.value)


def venue_reason(state: AccountState) -> str:
    """The reason of ``state`` in the venue's words, without the wait the lifecycle added."""
    return _RETRY_SUFFIX.sub("", state.reason).strip()


def seconds_left(state: AccountState, now: int) -> int | None:
    """Whole seconds until the next try of a waiting account (None when it is not waiting)."""
    if state.retry_in is None or state.state not in WAITING:
        return None
    if state.ts_ms is None:
        return max(0, round(state.retry_in))
    return max(0, -(-(state.ts_ms + round(state.retry_in * 1000) - now) // 1000))


def silent_for(last_message_ms: int | None, now: int) -> int | None:
    """Whole seconds since the last frame arrived (None when none did)."""
    if last_message_ms is None:
        return None
    return max(0, (now - last_message_ms) // 1000)


def _cut(text: str, limit: int) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def state_phrase(state: AccountState, now: int, last_message_ms: int | None = None) -> str:
    """The state as the light's hover says it, without the account: "reconnecting (attempt 2,
    next try in 4 s)", "stale (silent 12 s)", "failed"."""
    word = words(state.state)
    if state.state is VenueState.RECONNECTING:
        parts = [f"attempt {state.attempt}"] if state.attempt else []
        left = seconds_left(state, now)
        if left is not None:
            parts.append(f"next try in {left} s")
        return f"{word} ({', '.join(parts)})" if parts else word
    if state.state is VenueState.STALE:
        silent = silent_for(last_message_ms, now)
        return f"{word} (silent {silent} s)" if silent is not None else word
    if state.state in (VenueState.CONNECTING, VenueState.AUTHENTICATING) and state.attempt > 1:
        return f"{word} (attempt {state.attempt})"
    return word


def label_text(
    state: AccountState, now: int, last_message_ms: int | None = None, note: str = ""
) -> str:
    """What the light's label says beside its dot: the account, and whenever it is not live
    its state in words; a failed account's reason in the venue's words, not only on hover."""
    name = f"{state.account} · {note}" if note else state.account
    kind = state.state
    if kind is VenueState.LIVE:
        return name
    if kind is VenueState.FAILED:
        text = f"{name} failed"
        reason = venue_reason(state)
        if reason:
            text += f": {_cut(reason, LABEL_REASON_LIMIT)}"
        left = seconds_left(state, now)
        if left is not None:
            text += f" · retry in {left} s"
        return text
    if kind is VenueState.RECONNECTING:
        left = seconds_left(state, now)
        return f"{name} reconnecting in {left} s" if left else f"{name} reconnecting"
    if kind is VenueState.STALE:
        silent = silent_for(last_message_ms, now)
        return f"{name} stale (silent {silent} s)" if silent is not None else f"{name} stale"
    return f"{name} {words(kind)}"


def hover_text(
    state: AccountState,
    title: str,
    now: int,
    trust: AccountTrust | None = None,
    last_message_ms: int | None = None,
    note: str = "",
) -> str:
    """The light's hover: "bybit-demo (Bybit): live · last message 2 s ago · last full check
    13:07:19"; for any other state what it is, why, and since when the rows are unverified."""
    head = f"{state.account} ({title}): "
    lines: list[str] = []
    if state.state is VenueState.LIVE:
        parts = ["live"]
        silent = silent_for(last_message_ms, now)
        if silent is not None:
            parts.append(f"last message {silent} s ago")
        if trust is not None and trust.last_check is not None:
            parts.append(f"last full check {clock_text(trust.last_check, now)}")
        lines.append(head + " · ".join(parts))
    else:
        reason = venue_reason(state) if state.state is VenueState.FAILED else state.reason
        phrase = state_phrase(state, now, last_message_ms)
        if reason and not (state.state is VenueState.STALE and reason.startswith("silent ")):
            phrase += f" — {reason}"
        lines.append(head + phrase)
        if state.state is VenueState.FAILED:
            left = seconds_left(state, now)
            refused = f"refused {state.attempt} times in a row; " if state.attempt > 1 else ""
            if left is not None:
                lines.append(f"{refused}next try in {left} s".capitalize())
        if trust is not None and trust.unverified_since is not None:
            lines.append(f"Its rows are {unverified_marker(trust, now)}")
        if trust is not None and trust.last_check is not None:
            lines.append(f"Last full check {clock_text(trust.last_check, now)}")
    if note:
        lines.append(f"{note}: the venue cancels this account's orders if the connection drops")
    return "\n".join(lines)


# -- rows ------------------------------------------------------------------------------------
def clock_text(ms: int, now: int) -> str:
    """Local wall time of ``ms``: "13:07:19" today, "yesterday 18:02:11", else with its date."""
    moment = datetime.fromtimestamp(ms / 1000)
    today = datetime.fromtimestamp(now / 1000).date()
    if moment.date() == today:
        return moment.strftime("%H:%M:%S")
    if moment.date() == today - timedelta(days=1):
        return moment.strftime("yesterday %H:%M:%S")
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def unverified_marker(trust: AccountTrust, now: int) -> str:
    """The Status cell's marker of a row no live stream vouches for: "unverified since
    13:07:19", or for rows shown from the last run "as of yesterday 18:02:11"."""
    if trust.restored_as_of is not None:
        return f"as of {clock_text(trust.restored_as_of, now)}"
    since = trust.unverified_since if trust.unverified_since is not None else now
    return f"unverified since {clock_text(since, now)}"


def account_condition(account: str, trust: AccountTrust, now: int) -> str:
    """Why rows of ``account`` are unverified, in a sentence: "bybit-demo is reconnecting
    (attempt 2, next try in 4 s)", "bybit-demo failed: 10003: API key is invalid."."""
    state = trust.state
    if trust.restored_as_of is not None and (state is None or state.state is VenueState.LIVE):
        return f"{account} has not answered yet since blotter started"
    if state is None:
        return f"{account} has not connected yet"
    if state.state is VenueState.FAILED:
        reason = venue_reason(state)
        return f"{account} failed: {reason}" if reason else f"{account} failed"
    if state.state is VenueState.LIVE:
        return f"{account} is live; its orders are being checked"
    phrase = state_phrase(state, now)
    reason = state.reason
    return f"{account} is {phrase}" + (f" — {reason}" if reason else "")


def row_state_line(account: str, trust: AccountTrust, now: int) -> str:
    """The tooltip line of an unverified row: its marker and why."""
    marker = unverified_marker(trust, now)
    return f"{marker[0].upper()}{marker[1:]}: {account_condition(account, trust, now)}"


def cancel_tip(order_id: str, account: str, trust: AccountTrust | None) -> str:
    """The Cancel button's tooltip; for an unverified row it says what the cancel will do.
    (The click cancels this row; the Delete key acts on the selection, not the row hovered.)"""
    tip = f"Click to cancel order {order_id}"
    if trust is None:
        return tip
    state = trust.state
    if state is not None and state.state is VenueState.FAILED:
        reason = venue_reason(state)
        return (f"{tip}\n{account} failed{': ' + reason if reason else ''}: the venue may refuse "
                "the cancel; it is confirmed when the account is back")
    return (f"{tip}\n{account} is not live: the cancel is sent now and confirmed when the "
            "account is back")


def confirmation_warning(plan: CancelPlan, trust: AccountTrust, now: int) -> str | None:
    """What a Cancel All / Cancel Account confirmation must say of an account that is not
    live (None when it is live)."""
    state = trust.state
    if state is not None and state.state is VenueState.LIVE and trust.unverified_since is None:
        return None
    name = plan.account.account
    if state is not None and state.state is VenueState.FAILED:
        reason = venue_reason(state) or "the venue refused the connection"
        return f"{name}: cannot be cancelled now: {reason}"
    n = len(plan.orders)
    orders = f"its {n} order{'s' if n != 1 else ''}" if n else "any orders it has"
    if state is not None and state.state is VenueState.STALE:
        where = "is stale"
    elif state is not None and state.state is VenueState.LIVE:
        where = "is not checked yet"
    else:
        where = "is not connected"
    return f"{name} {where}: {orders} will be cancelled by REST and confirmed when it is back"


def worth_highlighting(diff: ResyncDiff, trust: AccountTrust) -> bool:
    """Whether the rows a fresh list added or changed are news to the trader: after a time
    unseen, at start over the last run's rows, or an audit that caught the stream missing
    something; not the first list of a new account, nor a stream that speaks in full lists."""
    if not (diff.added or diff.changed):
        return False
    if trust.restored_as_of is not None:
        return True
    live = trust.state is not None and trust.state.state is VenueState.LIVE
    if live:
        return not diff.stream
    return trust.left_live is not None
