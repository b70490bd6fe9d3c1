"""Recent: what a parser remembers of the orders it saw lately, in bounded memory."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from blotter.venues.recent import Recent


def test_it_remembers_the_last_generation_and_never_more_than_two() -> None:
    recent: Recent[int, str] = Recent(3)
    for key in range(10):
        recent.put(key, str(key))
        assert len(recent) <= 6
        assert all(k in recent for k in range(max(0, key - 2), key + 1))
    assert 0 not in recent and recent.recall(0) is None


def test_a_recalled_entry_moves_back_to_the_current_generation() -> None:
    recent: Recent[int, str] = Recent(2)
    recent.put(1, "a")
    recent.put(2, "b")
    recent.put(3, "c")  # 1 and 2 are now the older generation
    assert 1 not in recent.current and recent.recall(1) == "a" and 1 in recent.current
    recent.put(4, "d")  # the current one (3, 1) turns older; 2 is forgotten
    assert 2 not in recent and recent.recall(3) == "c" and recent.recall(1) == "a"


def test_pop_and_clear_forget_from_both_generations() -> None:
    recent: Recent[int, str] = Recent(1)
    recent.put(1, "a")
    recent.put(2, "b")
    recent.pop(1)
    recent.pop(2)
    recent.pop(3)
    assert len(recent) == 0
    recent.put(4, "d")
    recent.clear()
    assert 4 not in recent and len(recent) == 0


def test_the_current_dict_stays_the_same_object() -> None:
    recent: Recent[int, int] = Recent(2)
    current = recent.current
    for key in range(20):
        recent.put(key, key)
    assert recent.current is current


def test_a_generation_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError):
        Recent(0)


@given(st.lists(st.tuples(st.sampled_from(["put", "recall", "pop"]), st.integers(0, 12))),
       st.integers(1, 5))
def test_it_answers_like_a_dict_for_whatever_it_still_holds(
    steps: list[tuple[str, int]], generation: int
) -> None:
    recent: Recent[int, int] = Recent(generation)
    truth: dict[int, int] = {}
    for n, (op, key) in enumerate(steps):
        if op == "put":
            recent.put(key, n)
            truth[key] = n
        elif op == "pop":
            recent.pop(key)
            truth.pop(key, None)
        else:
            found = recent.recall(key)
            assert found is None or found == truth.get(key)
        assert len(recent) <= 2 * generation
        assert all(truth.get(k) == v for k, v in recent.current.items())
