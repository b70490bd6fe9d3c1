"""A venue's account options as data: how each is written in the accounts file, how the account
form shows it, and the checks that keep it sane.

Each venue lists its options as ``OptionField``s (``venues/<venue>/spec.py``); the accounts file
reader and the account form are written once against these, so a new venue brings its options
without touching either. A check that fails raises ``OptionError`` naming the field, and the
message is written for the trader who will fix the file or the form.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

OptionKind = Literal["bool", "int", "text", "choice", "choices", "texts"]
"""``bool`` true/false · ``int`` a whole number · ``text`` a string · ``choice`` one of
``choices`` · ``choices`` an array of some of ``choices`` · ``texts`` an array of strings."""

LABEL_MAX_LEN: Final = 64


@dataclass(frozen=True, slots=True)
class OptionField:
    """One option of a venue's accounts.

    ``name`` is its key in the accounts file and its attribute on the venue's options object;
    ``label`` names its row in the account form (empty for a check box, whose ``text`` says it
    all); ``text`` is the check box's sentence or the edit's placeholder; ``choices`` are
    ``(value, shown as)`` pairs; ``minimum``/``maximum``/``suffix`` shape a number; an option
    with ``in_form`` False is set in the file only.
    """

    name: str
    kind: OptionKind
    label: str = ""
    text: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    minimum: int = 0
    maximum: int = 0
    suffix: str = ""
    in_form: bool = True

    @property
    def values(self) -> tuple[str, ...]:
        """The allowed values of a ``choice``/``choices`` option."""
        return tuple(value for value, _ in self.choices)


class OptionError(ValueError):
    """An option value that cannot be used: ``reason`` for the trader, ``field`` where
    (``settle_coins[1]``)."""

    def __init__(self, reason: str, field: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.reason = reason
        self.field = field


def quoted(value: object) -> str:
    """A value as it would be written in the accounts file: strings in double quotes."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def type_name(value: object) -> str:
    """What a value is, in the words of the accounts file ("an integer", "an array")."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return "a date/time" if hasattr(value, "isoformat") else type(value).__name__


def check_label(value: object, field: str) -> str:
    """A name a trader reads in the table: a printable string without surrounding spaces, at
    most ``LABEL_MAX_LEN`` characters; returns it, or raises ``OptionError``."""
    if not isinstance(value, str):
        raise OptionError(f"must be a string, got {type_name(value)}", field)
    if not value:
        raise OptionError("must not be empty", field)
    if value != value.strip():
        raise OptionError(f"{quoted(value)} has leading or trailing spaces", field)
    if not value.isprintable():
        raise OptionError(f"{quoted(value)} holds a control or non-printing character", field)
    if len(value) > LABEL_MAX_LEN:
        raise OptionError(f"is longer than {LABEL_MAX_LEN} characters", field)
    return value


def check_choices(values: object, allowed: Sequence[str], field: str) -> None:
    """At least one of ``allowed``, each at most once (``OptionError`` otherwise)."""
    if not isinstance(values, tuple) or not values:
        raise OptionError(f"must list at least one of {', '.join(allowed)}", field)
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value not in allowed:
            raise OptionError(
                f"{quoted(value)} is not one of {', '.join(allowed)}", f"{field}[{index}]"
            )
        if value in seen:
            raise OptionError(f"{quoted(value)} is listed twice", f"{field}[{index}]")
        seen.add(value)


def check_labels(values: object, field: str) -> None:
    """An array of distinct ``check_label`` names (may be empty)."""
    if not isinstance(values, tuple):
        raise OptionError("must be an array of strings", field)
    for index, value in enumerate(values):
        check_label(value, f"{field}[{index}]")
        if value in values[:index]:
            raise OptionError(f"{quoted(value)} is listed twice", f"{field}[{index}]")
