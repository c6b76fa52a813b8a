"""How a page of driver keys is looked up in the target: one index range when the keys are dense
integers, else the keys themselves."""

from __future__ import annotations

from checks.kinds.related import DENSE_FACTOR, dense_int_range, sorted_distinct


def test_dense_integer_keys_are_read_as_one_range() -> None:
    assert dense_int_range([(1,), (2,), (4,), (7,)]) == (1, 7)
    page = [(i,) for i in range(100, 5100, 2)]  # every other id, as a filtered keyset page is
    assert dense_int_range(page) == (100, 5098)


def test_sparse_mixed_or_composite_keys_are_looked_up_one_by_one() -> None:
    assert dense_int_range([(1,), (DENSE_FACTOR * 2 + 1,)]) is None  # the range would read 4.5x the keys
    assert dense_int_range([(1,), ("2",)]) is None
    assert dense_int_range([(1, 1), (1, 2)]) is None
    assert dense_int_range([(True,), (False,)]) is None  # bools are ints to Python, not to the database
    assert dense_int_range([]) is None


def test_distinct_values_keep_a_stable_order_even_when_types_do_not_compare() -> None:
    assert sorted_distinct([(3,), (1,), (3,)]) == [(1,), (3,)]
    assert sorted_distinct([(1,), ("a",), (None,)]) == sorted([(1,), ("a",), (None,)], key=repr)
