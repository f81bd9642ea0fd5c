"""Small Arrow conversions shared by the modules of the package."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["as_large_strings", "as_text", "bool_mask"]


def as_large_strings(values: Any) -> pa.LargeStringArray:
    """Any column-like input as one contiguous ``large_string`` array: Arrow arrays and
    chunked arrays (one chunk is taken as is), dictionaries decoded, other types cast
    (ints become decimals), pandas/Python sequences converted (NaN -> null)."""
    if isinstance(values, pa.ChunkedArray):
        if values.num_chunks == 0:
            return pa.array([], pa.large_string())
        values = values.chunk(0) if values.num_chunks == 1 else values.combine_chunks()
    if not isinstance(values, pa.Array):
        values = pa.array(values, from_pandas=True)
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if pa.types.is_null(values.type):
        return pa.nulls(len(values), pa.large_string())
    if not pa.types.is_large_string(values.type):
        values = pc.cast(values, pa.large_string())
    return values


def as_text(values: Any) -> pa.Array | pa.ChunkedArray:
    """A text column as Arrow strings: an Arrow ``string`` or ``large_string`` column as it
    is (no copy), anything else as :func:`as_large_strings` makes it."""
    if isinstance(values, (pa.Array, pa.ChunkedArray)) and (
        pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
    ):
        return values
    return as_large_strings(values)


def bool_mask(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """An Arrow boolean column as a numpy bool array, nulls as False."""
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)
