"""The account form: one input per option each venue declares, only the chosen venue's keys and
options shown, environments and URL hints that follow the venue, an account being edited filled
back in, and a field that is wrong named in the form's message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QSpinBox

from blotter import config as cfg
from blotter.account_manager import AccountManager
from blotter.core.notices import Level, NoticeBus, StateBus
from blotter.core.store import OrderStore
from blotter.engine import Engine
from blotter.ui import theme
from blotter.ui.account_form import AccountForm, secret_label
from tests.test_secrets import MemoryKeyring

BROKER = ("https://broker.example", "wss://broker.example/frontoffice/ws/v4/account")


@pytest.fixture
def manager(tmp_path: Path, memory_keyring: MemoryKeyring) -> AccountManager:
    return AccountManager(Engine(OrderStore(), NoticeBus(), StateBus()), tmp_path / "config.toml")


def open_form(qtbot: Any, manager: AccountManager, account: Any = None) -> AccountForm:
    form = AccountForm(manager, account)
    qtbot.addWidget(form)
    form.show()
    return form


def choose(form: AccountForm, venue: str, env: str | None = None) -> None:
    form.venue_box.setCurrentIndex(form.venue_box.findData(venue))
    if env is not None:
        form.env_box.setCurrentIndex(form.env_box.findData(env))


def row_label(form: AccountForm, widget: Any) -> str:
    return form.form.labelForField(widget).text()


async def test_the_form_names_what_is_wrong(manager: AccountManager, qtbot: Any) -> None:
    form = open_form(qtbot, manager)
    form.name_edit.setText("b2")
    form.venue_box.setCurrentIndex(form.venue_box.findData("b2trader"))
    form.secret_edits["api_token"].setText("tok-123456")
    qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)
    assert "rest_url" in form.message.text()  # a broker has no default host
    form.rest_edit.setText("http://broker.example")
    form.ws_edit.setText("wss://broker.example/frontoffice/ws/v4/account")
    qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)
    assert "http://" in form.message.text() and "loopback" in form.message.text()
    assert manager.config.names == ()
    form.reject()


def test_the_venues_are_offered_by_the_names_the_trader_knows(qtbot, manager):
    form = open_form(qtbot, manager)
    box = form.venue_box
    assert [box.itemText(i) for i in range(box.count())] == ["Bitfinex", "Bybit",
                                                             "B2TRADER broker"]
    assert [box.itemData(i) for i in range(box.count())] == ["bitfinex", "bybit", "b2trader"]
    assert form.windowTitle() == "Add Account"
    assert form.windowModality() == Qt.WindowModality.WindowModal


def test_one_input_per_option_of_every_venue(qtbot, manager):
    form = open_form(qtbot, manager)
    for venue in manager.venue_forms():
        inputs = form.options[venue.venue]
        assert list(inputs) == [o.name for o in venue.options if o.in_form]
        for option in venue.options:
            if not option.in_form:
                continue
            widget = inputs[option.name].widget
            assert widget.objectName() == f"option-{option.name}"
            kind = option.kind
            if kind == "bool":
                assert isinstance(widget, QCheckBox) and widget.text() == option.text
            else:
                assert row_label(form, widget) == option.label
            if kind == "int":
                assert isinstance(widget, QSpinBox)
                assert (widget.minimum(), widget.maximum()) == (option.minimum, option.maximum)
                assert widget.suffix() == option.suffix
            elif kind == "choice":
                assert isinstance(widget, QComboBox)
                assert [(widget.itemData(i), widget.itemText(i))
                        for i in range(widget.count())] == list(option.choices)
            elif kind == "choices":
                checks = inputs[option.name].checks
                assert [(v, c.text()) for v, c in checks.items()] == list(option.choices)
            elif kind in ("text", "texts"):
                assert isinstance(widget, QLineEdit)
                assert widget.placeholderText() == option.text
            assert inputs[option.name].value() == _shown(venue.defaults[option.name])


def _shown(default: Any) -> Any:
    """A default as the form hands it back (arrays as lists; an empty text as not given)."""
    if isinstance(default, tuple):
        return list(default)
    return default if default != "" else None


def test_the_bybit_inputs(qtbot, manager):
    form = open_form(qtbot, manager)
    bybit = form.options["bybit"]
    assert list(bybit) == ["categories", "recv_window"]  # settle_coins: in the file only
    assert [c.text() for c in bybit["categories"].checks.values()] == [
        "spot", "linear", "inverse", "option"
    ]
    spin = bybit["recv_window"].widget
    assert (spin.minimum(), spin.maximum(), spin.suffix(), spin.value()) == (1, 60000, " ms",
                                                                             5000)
    assert form.options["bitfinex"]["dead_man_switch"].widget.text() == (
        "Dead-man switch: the venue cancels every order if the connection drops"
    )


@pytest.mark.parametrize(
    ("venue", "keys"),
    [("bitfinex", ["api_key", "api_secret"]), ("bybit", ["api_key", "api_secret"]),
     ("b2trader", ["api_token"])],
)
def test_only_the_chosen_venues_keys_and_options_are_shown(qtbot, manager, venue, keys):
    form = open_form(qtbot, manager)
    choose(form, venue)
    shown = [f for f, edit in form.secret_edits.items() if form.form.isRowVisible(edit)]
    assert shown == keys
    for name, inputs in form.options.items():
        for option in inputs.values():
            assert form.form.isRowVisible(option.widget) == (name == venue), (name, option)


def test_keys_are_typed_unseen_and_named_for_people(qtbot, manager):
    form = open_form(qtbot, manager)
    for field, edit in form.secret_edits.items():
        assert edit.echoMode() == QLineEdit.EchoMode.Password
        assert row_label(form, edit) == secret_label(field)
    assert secret_label("api_key") == "API key"
    assert secret_label("api_secret") == "API secret"
    assert secret_label("api_token") == "API token"
    assert secret_label("passphrase") == "Passphrase"


@pytest.mark.parametrize(
    ("venue", "env", "envs", "rest_hint", "ws_hint"),
    [
        ("bitfinex", None, ["live", "paper"], "default: https://api.bitfinex.com",
         "default: wss://api.bitfinex.com/ws/2"),
        ("bybit", "testnet", ["live", "testnet", "demo"], "default: https://api-testnet.bybit.com",
         "default: wss://stream-testnet.bybit.com/v5/private"),
        ("bybit", "demo", ["live", "testnet", "demo"], "default: https://api-demo.bybit.com",
         "default: wss://stream-demo.bybit.com/v5/private"),
        ("b2trader", None, ["live", "demo"], f"required, e.g. {BROKER[0]}",
         f"required, e.g. {BROKER[1]}"),
    ],
)
def test_environments_and_url_hints_follow_the_venue(qtbot, manager, venue, env, envs,
                                                     rest_hint, ws_hint):
    form = open_form(qtbot, manager)
    choose(form, "b2trader" if venue != "b2trader" else "bybit")  # come from another venue
    choose(form, venue, env)
    box = form.env_box
    assert [box.itemText(i) for i in range(box.count())] == envs
    assert form.rest_edit.placeholderText() == rest_hint
    assert form.ws_edit.placeholderText() == ws_hint


def test_editing_fills_the_account_back_in(qtbot, manager):
    account = cfg.make_account("by-1", "bybit", env="testnet", categories=("spot", "linear"),
                               recv_window=7000)
    form = open_form(qtbot, manager, account)
    assert form.windowTitle() == "Edit Account"
    assert form.name_edit.text() == "by-1"
    assert form.venue == "bybit" and form.env_box.currentData() == "testnet"
    assert form.rest_edit.text() == "" and form.ws_edit.text() == ""  # the defaults
    checks = form.options["bybit"]["categories"].checks
    assert {v: c.isChecked() for v, c in checks.items()} == {
        "spot": True, "linear": True, "inverse": False, "option": False
    }
    assert form.options["bybit"]["recv_window"].widget.value() == 7000
    for field in ("api_key", "api_secret"):
        assert form.secret_edits[field].placeholderText() == "kept in the keyring; type to replace"
    assert form.option_values() == {"categories": ["spot", "linear"], "recv_window": 7000}
    assert form.account() == account


def test_editing_a_broker_fills_its_urls_and_options(qtbot, manager):
    account = cfg.make_account("acme", "b2trader", rest_url=BROKER[0], ws_url=BROKER[1],
                               display_name="Acme", trading_accounts=("Main", "Hedge"),
                               stream="delta")
    form = open_form(qtbot, manager, account)
    assert (form.rest_edit.text(), form.ws_edit.text()) == BROKER
    inputs = form.options["b2trader"]
    assert inputs["display_name"].widget.text() == "Acme"
    assert inputs["trading_accounts"].widget.text() == "Main, Hedge"
    assert inputs["stream"].widget.currentData() == "delta"
    assert inputs["stream"].widget.currentText() == "changes only (delta)"
    assert form.account() == account


def test_a_bitfinex_account_with_its_switch_on(qtbot, manager):
    account = cfg.make_account("bfx", "bitfinex", env="paper", dead_man_switch=True)
    form = open_form(qtbot, manager, account)
    assert form.options["bitfinex"]["dead_man_switch"].widget.isChecked()
    assert form.env_box.currentData() == "paper"
    assert form.account() == account


def error_shown(form: AccountForm) -> str:
    assert theme.LEVEL_COLOURS[Level.ERROR].name() in form.message.styleSheet()
    return form.message.text()


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("", "name: must not be empty"),
        ("a/b", 'name: "a/b" contains "/", which is reserved'),
    ],
)
def test_a_bad_name_is_named(qtbot, manager, name, said):
    form = open_form(qtbot, manager)
    choose(form, "bybit")
    form.name_edit.setText(name)
    assert form.save() is None
    assert error_shown(form).startswith(said)


def test_a_venue_option_left_empty_is_named(qtbot, manager):
    form = open_form(qtbot, manager)
    choose(form, "bybit")
    form.name_edit.setText("by-1")
    for check in form.options["bybit"]["categories"].checks.values():
        check.setChecked(False)
    qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)
    assert error_shown(form) == (
        "categories: must list at least one of spot, linear, inverse, option"
    )
    assert manager.config.names == ()


def test_missing_keys_are_asked_for_before_anything_is_sent(qtbot, manager):
    form = open_form(qtbot, manager)
    choose(form, "bybit")
    form.name_edit.setText("by-1")
    form.secret_edits["api_key"].setText("key-only")
    assert form.save() is None
    assert error_shown(form) == "Enter the API secret."
    form.secret_edits["api_key"].setText("")
    assert form.test_connection() is None
    assert error_shown(form) == "Enter the API key and API secret."
    assert form.save_button.isEnabled() and form.test_button.isEnabled()
    assert form.typed_secrets() == {}


async def test_a_long_keyring_error_wraps_under_the_fields_without_squeezing_them(
    qtbot, manager
):
    import keyring

    from tests.helpers import until
    from tests.test_secrets import BrokenKeyring

    form = open_form(qtbot, manager)
    choose(form, "bitfinex")
    fields = (form.name_edit, form.secret_edits["api_key"], form.rest_edit)
    widths = [f.width() for f in fields]
    assert min(widths) > 200
    switch = form.options["bitfinex"]["dead_man_switch"].widget  # its words are not cut
    assert switch.width() >= switch.sizeHint().width()
    reason = ("org.freedesktop.DBus.Error.ServiceUnknown: The name org.freedesktop.secrets was not "
              "provided by any .service files; collection "
              "/org/freedesktop/secrets/collection/" + "login" * 30 + " is locked " * 20)
    keyring.set_keyring(BrokenKeyring(RuntimeError(reason)))
    form.name_edit.setText("bfx-1")
    form.secret_edits["api_key"].setText("key-1234567890")
    form.secret_edits["api_secret"].setText("secret-0987654321")
    task = form.save()
    assert task is not None
    await task
    message = form.message
    await until(lambda: "No usable OS keyring" in message.text())
    assert "org.freedesktop.secrets" in message.text()
    await until(lambda: message.height() >= message.heightForWidth(message.width()))
    assert all(f.width() >= w for f, w in zip(fields, widths, strict=True))  # never squeezed
    assert form.width() <= 900  # the message wraps: the dialog does not run off the screen
    # every line of the message is in view, above the buttons
    assert message.height() >= message.heightForWidth(message.width())
    assert message.geometry().bottom() < form.save_button.geometry().top()
    assert form.save_button.geometry().bottom() <= form.height()
