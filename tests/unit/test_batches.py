"""Mapping in slices gives what the plain function gives."""

from decode_userapi.services.files.batches import SLICE, mapped_in_slices


async def test_mapped_in_slices_maps_every_item_once_in_order() -> None:
    items = list(range(SLICE * 2 + 1))
    doubled = await mapped_in_slices(items, lambda batch: [item * 2 for item in batch])
    assert doubled == [item * 2 for item in items]
