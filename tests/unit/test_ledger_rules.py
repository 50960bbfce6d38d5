"""Double entry: every transaction sums to zero in each unit; netting and lock order."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.core.errors import InvalidQuantity, UnbalancedTransaction
from marketplace.core.gold import GOLD_UNIT
from marketplace.core.ledger import Posting, check_balanced, net_postings, sorted_for_locking

postings = st.lists(
    st.builds(
        Posting,
        account=st.sampled_from(["customer", "jeweller:7", "coop:38522", "platform", 3]),
        unit=st.sampled_from(["PEN", "USD", GOLD_UNIT]),
        amount=st.integers(min_value=-(10**9), max_value=10**9),
    ),
    max_size=25,
)


def test_balanced_sale_in_soles_and_gold_is_accepted() -> None:
    check_balanced(
        [
            Posting("processor", "PEN", 45_000),
            Posting("jeweller:7:pending", "PEN", -40_000),
            Posting("coop:38522:pending", "PEN", -2_812),
            Posting("platform:fee", "PEN", -2_188),
            Posting("jeweller:7:committed", GOLD_UNIT, -3_750),
            Posting("lot:CEC-2024-01:sold", GOLD_UNIT, 3_750),
        ]
    )


def test_unbalanced_transaction_is_refused_per_unit() -> None:
    with pytest.raises(UnbalancedTransaction) as info:
        check_balanced(
            [
                Posting("processor", "PEN", 100),
                Posting("jeweller", "PEN", -100),
                Posting("lot", GOLD_UNIT, 3_750),
                Posting("jeweller", GOLD_UNIT, -3_745),
            ]
        )
    assert GOLD_UNIT in str(info.value) and "+5" in str(info.value)
    # Soles and dollars cannot balance each other.
    with pytest.raises(UnbalancedTransaction) as info:
        check_balanced([Posting("a", "PEN", 100), Posting("b", "USD", -100)])
    assert "PEN" in str(info.value)


def test_empty_transactions_and_zero_postings_are_refused() -> None:
    with pytest.raises(UnbalancedTransaction):
        check_balanced([])
    with pytest.raises(UnbalancedTransaction):
        check_balanced([Posting("a", "PEN", 0)])
    with pytest.raises(UnbalancedTransaction):
        check_balanced([Posting("a", "PEN", 5), Posting("b", "PEN", -5), Posting("c", "PEN", 0)])


def test_postings_refuse_float_and_bool_amounts() -> None:
    for amount in (12.5, 10.0, True):
        with pytest.raises(InvalidQuantity):
            Posting("a", "PEN", amount)  # type: ignore[arg-type]
    with pytest.raises(InvalidQuantity):
        Posting("a", "", 5)


def test_net_postings_merges_and_drops_zeros_in_first_seen_order() -> None:
    merged = net_postings(
        [
            Posting("b", "PEN", 5),
            Posting("a", "PEN", 7),
            Posting("b", GOLD_UNIT, 3),
            Posting("a", "PEN", -7),
            Posting("b", "PEN", 4),
        ]
    )
    assert merged == [Posting("b", "PEN", 9), Posting("b", GOLD_UNIT, 3)]


@given(postings)
def test_netting_never_changes_what_any_account_holds(entries: list[Posting]) -> None:
    def holdings(items: list[Posting]) -> dict[tuple[object, str], int]:
        result: dict[tuple[object, str], int] = {}
        for p in items:
            result[(p.account, p.unit)] = result.get((p.account, p.unit), 0) + p.amount
        return {key: value for key, value in result.items() if value}

    merged = net_postings(entries)
    assert holdings(merged) == holdings(entries)
    assert all(p.amount != 0 for p in merged)
    assert len({(p.account, p.unit) for p in merged}) == len(merged)


@given(postings, st.randoms(use_true_random=False))
def test_every_writer_locks_rows_in_the_same_order(
    entries: list[Posting], rnd: random.Random
) -> None:
    shuffled = list(entries)
    rnd.shuffle(shuffled)
    first, second = sorted_for_locking(entries), sorted_for_locking(shuffled)
    keys = [(p.unit, str(p.account)) for p in first]
    assert keys == sorted(keys)
    assert keys == [(p.unit, str(p.account)) for p in second]
    # Stable: postings with the same key keep their original relative order.
    for key in set(keys):
        original = [p for p in entries if (p.unit, str(p.account)) == key]
        assert [p for p in first if (p.unit, str(p.account)) == key] == original
