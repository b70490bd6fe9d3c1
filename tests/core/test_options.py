"""A venue's account options as data: the checks accept good values, and for a bad one name the
field and say why, in the words the trader reads in the form or beside the accounts file."""

from __future__ import annotations

import datetime

import pytest

from blotter.core.options import (
    LABEL_MAX_LEN,
    OptionError,
    OptionField,
    check_choices,
    check_label,
    check_labels,
    quoted,
    type_name,
)

CATEGORIES = ("spot", "linear", "inverse", "option")


def refusal(check, *args) -> tuple[str, str, str]:
    with pytest.raises(OptionError) as caught:
        check(*args)
    error = caught.value
    return error.field, error.reason, str(error)


# -- check_label ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "good", ["Acme", "Acme Main", "bfx-main", "Café Börse", "x" * LABEL_MAX_LEN]
)
def test_a_good_label_is_returned(good: str) -> None:
    assert check_label(good, "display_name") == good


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (5, "must be a string, got an integer"),
        (None, "must be a string, got NoneType"),
        (["Acme"], "must be a string, got an array"),
        ("", "must not be empty"),
        (" Acme", '" Acme" has leading or trailing spaces'),
        ("Acme ", '"Acme " has leading or trailing spaces'),
        ("Ac\tme", '"Ac\\tme" holds a control or non-printing character'),
        ("Acme\n", '"Acme\\n" has leading or trailing spaces'),
        ("x" * (LABEL_MAX_LEN + 1), f"is longer than {LABEL_MAX_LEN} characters"),
    ],
)
def test_a_bad_label_names_the_field_and_the_reason(value: object, reason: str) -> None:
    field, said, text = refusal(check_label, value, "display_name")
    assert field == "display_name"
    assert said == reason
    assert text == f"display_name: {reason}"


def test_an_option_error_is_a_value_error() -> None:
    assert isinstance(OptionError("must not be empty", "name"), ValueError)


# -- check_choices --------------------------------------------------------------------------
@pytest.mark.parametrize("good", [("spot",), ("linear", "spot"), CATEGORIES])
def test_good_choices_pass(good: tuple[str, ...]) -> None:
    assert check_choices(good, CATEGORIES, "categories") is None


@pytest.mark.parametrize(
    ("values", "field", "reason"),
    [
        ((), "categories", "must list at least one of spot, linear, inverse, option"),
        ("spot", "categories", "must list at least one of spot, linear, inverse, option"),
        (("spot", "futures"), "categories[1]",
         '"futures" is not one of spot, linear, inverse, option'),
        (("Spot",), "categories[0]", '"Spot" is not one of spot, linear, inverse, option'),
        (("spot", "linear", "spot"), "categories[2]", '"spot" is listed twice'),
    ],
)
def test_bad_choices_name_the_entry_and_the_reason(
    values: object, field: str, reason: str
) -> None:
    where, said, text = refusal(check_choices, values, CATEGORIES, "categories")
    assert (where, said) == (field, reason)
    assert text == f"{field}: {reason}"


# -- check_labels ---------------------------------------------------------------------------
@pytest.mark.parametrize("good", [(), ("Main",), ("Main", "Hedge", "12345")])
def test_good_label_lists_pass(good: tuple[str, ...]) -> None:
    assert check_labels(good, "trading_accounts") is None


@pytest.mark.parametrize(
    ("values", "field", "reason"),
    [
        ("Main", "trading_accounts", "must be an array of strings"),
        (("Main", ""), "trading_accounts[1]", "must not be empty"),
        (("Main", 7), "trading_accounts[1]", "must be a string, got an integer"),
        ((" Main",), "trading_accounts[0]", '" Main" has leading or trailing spaces'),
        (("Main", "Hedge", "Main"), "trading_accounts[2]", '"Main" is listed twice'),
    ],
)
def test_bad_label_lists_name_the_entry_and_the_reason(
    values: object, field: str, reason: str
) -> None:
    assert refusal(check_labels, values, "trading_accounts")[:2] == (field, reason)


# -- how values are put into words ------------------------------------------------------------
def test_quoted_writes_strings_as_the_accounts_file_does() -> None:
    assert quoted("snapshot") == '"snapshot"'
    assert quoted("Café") == '"Café"'  # not escaped to \u00e9: the trader typed é
    assert quoted('say "hi"') == '"say \\"hi\\""'
    assert quoted("a\tb") == '"a\\tb"'
    assert quoted(5000) == "5000"
    assert quoted(1.5) == "1.5"


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (True, "a boolean"),  # before int: a bool is an int in Python
        (False, "a boolean"),
        (5000, "an integer"),
        (1.5, "a float"),
        ("x", "a string"),
        (["a"], "an array"),
        (("a",), "an array"),
        ({"a": 1}, "a table"),
        (datetime.date(2024, 5, 1), "a date/time"),
        (datetime.datetime(2024, 5, 1, 12, 0), "a date/time"),
        (datetime.time(12, 0), "a date/time"),
    ],
)
def test_type_name_speaks_the_accounts_files_words(value: object, name: str) -> None:
    assert type_name(value) == name


def test_an_option_field_lists_its_allowed_values() -> None:
    field = OptionField("stream", "choice", label="Order stream",
                        choices=(("snapshot", "complete lists"), ("delta", "changes only")))
    assert field.values == ("snapshot", "delta")
    assert OptionField("dead_man_switch", "bool").values == ()
    assert field.in_form
