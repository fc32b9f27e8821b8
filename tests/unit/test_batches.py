"""Sorting and mapping in slices give what the plain functions give."""

import random

from decode_userapi.services.files.batches import SLICE, mapped_in_slices, sorted_in_slices


async def test_sorted_in_slices_sorts_like_sorted() -> None:
    names = [f"n{random.random()}" for _ in range(SLICE * 3 + 7)]
    assert await sorted_in_slices(names, key=str.upper) == sorted(names, key=str.upper)
    assert await sorted_in_slices([], key=str) == []


async def test_mapped_in_slices_maps_every_item_once_in_order() -> None:
    items = list(range(SLICE * 2 + 1))
    doubled = await mapped_in_slices(items, lambda batch: [item * 2 for item in batch])
    assert doubled == [item * 2 for item in items]
