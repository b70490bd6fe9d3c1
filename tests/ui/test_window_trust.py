"""The window never looks surer than it is, against a real BybitSimulator and BybitClient over
loopback: a refused key shows the venue's reason in the status bar and dims the rows, Reconnect
Now makes the waiting client try at once, what changed while the account was away is summed up,
lit up and listed in Recently Closed, and Check Now audits the table against the venue."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from PySide6.QtCore import Qt

from blotter.core.notices import VenueState
from blotter.core.order import AccountKey
from blotter.sim.bybit import BybitSimulator
from blotter.ui import theme
from blotter.ui.closed_view import REASON, section_of
from blotter.ui.main_window import MainWindow
from blotter.ui.orders_model import Column
from blotter.venues.bybit.client import BybitClient
from tests.helpers import until
from tests.ui.windows import FAST, WindowEnv, window_over

ACCOUNT = AccountKey("bybit", "bybit-test")
REFUSED = "Bybit refused the API key"


@dataclass
class Env(WindowEnv[BybitSimulator]):
    ids: dict[str, str]

    def sim_ids(self) -> set[str]:
        return {o["orderId"] for o in self.sim.open_orders()}

    @property
    def light(self):
        return self.window.status_bar.indicator(ACCOUNT)

    def state(self) -> VenueState:
        return self.light.state.state

    def logged(self) -> list[str]:
        return [e.notice.text for e in self.window.status_bar.log]

    def reconnect_entry(self):
        """The account's entry in Orders → Reconnect Now, as the trader would pick it."""
        menu = self.window.connections.reconnect_menu
        return next((a for a in menu.actions() if a.text().startswith(ACCOUNT.account)), None)

    def closed_reasons(self) -> dict[str, str]:
        model = self.window.closed_model
        model.flush()
        ids = section_of(Column.ORDER_ID)
        return {model.index(r, ids).data(): model.index(r, REASON).data()
                for r in range(model.rowCount())}


@pytest.fixture
async def env(qtbot, tmp_path):
    sim = BybitSimulator(seed=11)
    ids = {
        "btc": sim.place_order("spot", "BTCUSDT", "Buy", "0.01", "40000"),
        "eth": sim.place_order("linear", "ETHUSDT", "Sell", "0.5", "3500.5"),
        "sol": sim.place_order("linear", "SOLUSDT", "Buy", "2", "150"),
        "inverse": sim.place_order("inverse", "BTCUSD", "Buy", "100", "50000"),
    }

    def build(sim, store, notices, states):
        credentials = sim.credentials
        return BybitClient(
            ACCOUNT, rest_url=sim.rest_url, ws_url=sim.ws_url, api_key=credentials["api_key"],
            api_secret=credentials["api_secret"], store=store, notices=notices, states=states,
            cancel_timeout=5.0, backoff=FAST,
        )

    def ready(window: MainWindow) -> bool:
        return window.proxy.rowCount() == 4 and window.engine.trust.verified(ACCOUNT)

    async with window_over(qtbot, tmp_path, sim, build, ready,
                           lambda *a: Env(*a, ids=ids)) as environment:
        yield environment


async def refuse_the_key(env: Env) -> None:
    env.sim.refuse_key = True
    await env.sim.drop_connections()
    await until(lambda: env.state() is VenueState.FAILED)


def rows_dimmed(env: Env) -> bool:
    proxy = env.window.proxy
    return proxy.rowCount() > 0 and all(
        proxy.index(r, Column.STATUS).data().startswith("unverified since ")
        and proxy.index(r, Column.PRICE).data(Qt.ItemDataRole.ForegroundRole)
        == theme.UNVERIFIED_TEXT
        for r in range(proxy.rowCount())
    )


async def test_a_live_account_is_drawn_as_it_is(env):
    assert not rows_dimmed(env)
    assert env.window.windowTitle() == "blotter — 4 open orders"
    assert env.light.label.text() == "bybit-test"
    hover = env.light.hover_text().splitlines()[0]
    assert hover.startswith("bybit-test (Bybit): live · last message ")
    assert " s ago · last full check " in hover


async def test_a_refused_key_is_said_in_the_status_bar_and_dims_the_rows(env):
    await refuse_the_key(env)
    label = env.light.label.text()
    assert label.startswith(f"bybit-test failed: {REASON_TEXT(env)}")
    assert env.light.label.isVisible()
    await until(lambda: any(REFUSED in line for line in env.logged()))  # in the Notice Log too
    await until(lambda: rows_dimmed(env))
    await until(lambda: "· 4 unverified" in env.window.windowTitle())
    proxy = env.window.proxy
    tip = proxy.index(0, Column.CANCEL).data(Qt.ItemDataRole.ToolTipRole)
    assert "confirmed when the account is back" in tip and REFUSED in tip
    status_tip = proxy.index(0, Column.STATUS).data(Qt.ItemDataRole.ToolTipRole)
    assert status_tip.splitlines()[-1].startswith("Unverified since ")
    assert f"bybit-test failed: {REFUSED}" in status_tip

    env.window.actions_.all.trigger()  # Cancel All names the account and why it cannot
    dialog = env.window.confirm_dialog
    assert dialog is not None
    assert dialog.warnings == [f"bybit-test: cannot be cancelled now: {REASON_TEXT(env)}"]
    dialog.reject()


def REASON_TEXT(env: Env) -> str:
    """The venue's words for the refusal, as the client put them in the state (without the
    lifecycle's "; retrying in N s")."""
    from blotter.ui.trust_text import venue_reason

    return venue_reason(env.light.state)


async def test_reconnect_now_makes_the_waiting_client_try_at_once(env):
    await refuse_the_key(env)
    assert env.light.state.attempt == 1
    # through the light's own menu: the next refusal comes now, not after the 2 s wait
    menu = env.light.build_menu()
    reconnect = next(a for a in menu.actions() if a.text() == "Reconnect Now")
    assert reconnect.isEnabled()
    reconnect.trigger()
    await until(lambda: env.light.state.attempt == 2 and env.state() is VenueState.FAILED)
    # through the Orders menu: the third refusal makes the client wait 15 s
    env.reconnect_entry().trigger()
    await until(lambda: env.light.state.attempt == 3 and env.state() is VenueState.FAILED)
    assert env.light.state.retry_in == 15.0
    assert env.light.label.text().endswith(" · retry in 15 s")

    env.sim.refuse_key = False  # the venue takes the key again
    env.reconnect_entry().trigger()
    await until(lambda: env.state() is VenueState.LIVE, timeout=5)  # well before the 15 s
    assert env.reconnect_entry() is None  # nothing waits any more
    assert not env.window.connections.reconnect_menu.menuAction().isEnabled()
    await until(lambda: not rows_dimmed(env) and env.window.proxy.rowCount() == 4)
    await until(lambda: env.window.windowTitle() == "blotter — 4 open orders")
    assert env.light.label.text() == "bybit-test"


async def test_what_changed_while_away_is_summed_up_lit_and_listed(env):
    await refuse_the_key(env)
    await until(lambda: rows_dimmed(env))
    # the venue keeps trading while the window cannot see it
    env.sim.fill(env.ids["btc"])
    env.sim.cancel_external(env.ids["eth"], "CancelByAdmin")
    env.sim.fill(env.ids["sol"], "0.5")
    new = env.sim.place_order("spot", "XRPUSDT", "Sell", "100", "0.6")
    env.sim.refuse_key = False
    env.window.connections.reconnect(ACCOUNT)

    await until(lambda: env.state() is VenueState.LIVE)
    await until(lambda: set(env.row_ids()) == env.sim_ids())
    summary = "While bybit-test was disconnected"
    await until(lambda: any(line.startswith(summary) for line in env.logged()))
    line = next(line for line in env.logged() if line.startswith(summary))
    # how each missing order ended, as the venue's own record says
    assert line.endswith(": 1 filled, 1 cancelled at the venue, 1 new, 1 changed")
    marks = env.window.model.marks
    keys = {o.order_id: o.key for o in env.window.model.orders()}
    assert marks.is_highlighted(keys[new]) and marks.is_highlighted(keys[env.ids["sol"]])
    assert not marks.is_highlighted(keys[env.ids["inverse"]])
    brush = env.window.proxy.index(env.proxy_row(new), Column.SYMBOL).data(
        Qt.ItemDataRole.BackgroundRole)
    assert brush is not None and brush.color() == theme.HIGHLIGHT
    reasons = env.closed_reasons()
    assert reasons[env.ids["btc"]] == "filled at 40,000"
    assert reasons[env.ids["eth"]].startswith("cancelled at the venue (")
    assert "CancelByAdmin" in reasons[env.ids["eth"]]
    await until(lambda: env.window.tabs.tabText(1) == "Recently Closed (2)")


async def test_a_fill_and_a_venue_cancel_each_get_a_notice_and_a_row_in_recently_closed(env):
    env.sim.fill(env.ids["btc"])
    env.sim.cancel_external(env.ids["eth"], "CancelByAdmin")
    await until(lambda: len(env.row_ids()) == 2)
    reasons = env.closed_reasons()
    assert reasons[env.ids["btc"]] == "filled at 40,000"
    assert reasons[env.ids["eth"]].startswith("cancelled at the venue (")
    assert "CancelByAdmin" in reasons[env.ids["eth"]]
    await until(lambda: any(line.startswith("BTCUSDT buy 0.01 @ 40,000 filled")
                            for line in env.logged()))
    await until(lambda: any(line.startswith("ETHUSDT sell 0.5 @ 3,500.5 cancelled at the venue")
                            for line in env.logged()))
    await until(lambda: env.window.tabs.tabText(1) == "Recently Closed (2)")  # within a second
    env.window.tabs.setCurrentIndex(1)  # Ctrl+2
    assert env.window.closed_view.isVisible()
    assert env.window.closed_view.closed_at_row(0).order.order_id in {env.ids["btc"],
                                                                       env.ids["eth"]}
    # the open orders' row actions wait while their table is out of sight
    assert not env.window.actions_.order.isEnabled()
    assert env.window.actions_.all.isEnabled()


async def test_check_now_audits_the_table_against_the_venue(env):
    check = next(a for a in env.window.connections.check_menu.actions()
                 if a.text().startswith(ACCOUNT.account))
    check.trigger()
    await until(lambda: any(line == "Checked bybit-test: the table equals the venue (4 open "
                            "orders)" for line in env.logged()))

    gone = env.ids["inverse"]
    env.sim._orders.pop(gone)  # closed at the venue, and the stream never said so
    env.window.connections.check_all.trigger()  # Ctrl+F5: every account
    await until(lambda: gone not in env.row_ids())
    audit = f"Audit of bybit-test: order {gone} "
    await until(lambda: any(line.startswith(audit) for line in env.logged()))
    assert env.closed_reasons()[gone] == "closed while unseen (how unknown)"
    assert set(env.row_ids()) == env.sim_ids()
