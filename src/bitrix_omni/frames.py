"""Conversions between the frame types dbt adapters hand to Python models.

dbt-duckdb gives a DuckDB relation, other adapters pandas or pyarrow objects. The identity
models read everything with :func:`to_arrow` (no Python object per value); :func:`to_pandas`
is for models that want pandas, with missing values made uniform so that a NaN never turns
into a string.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import pyarrow as pa


def to_arrow(frame: Any, columns: Sequence[str] | None = None) -> pa.Table:
    """Any supported frame (DuckDB relation, pyarrow, pandas, polars) as a pyarrow Table;
    with ``columns``, only those (a DuckDB relation then reads no other column)."""
    if columns is not None and hasattr(frame, "project"):  # a DuckDB relation
        frame = frame.project(", ".join('"' + c.replace('"', '""') + '"' for c in columns))
    table = _as_arrow(frame)
    return table if columns is None else table.select(list(columns))


def relation_query(frame: Any) -> str:
    """The SQL query of a relation a dbt adapter hands a Python model for a ref (a DuckDB
    relation, or the PostgreSQL plugin's), to filter or join it in the warehouse."""
    if hasattr(frame, "sql_query"):
        return str(frame.sql_query())
    raise TypeError(f"a frame of type {type(frame).__name__} is not a warehouse relation")


def _as_arrow(frame: Any) -> pa.Table:
    if isinstance(frame, pa.Table):
        return frame
    if isinstance(frame, pa.RecordBatchReader):
        return frame.read_all()
    if isinstance(frame, pd.DataFrame):
        return pa.Table.from_pandas(frame, preserve_index=False)
    for method in ("to_arrow_table", "fetch_arrow_table", "to_arrow"):
        if hasattr(frame, method):
            result = getattr(frame, method)()
            return result.read_all() if isinstance(result, pa.RecordBatchReader) else result
    raise TypeError(f"cannot read a frame of type {type(frame).__name__}")


def to_pandas(frame: Any) -> pd.DataFrame:
    """Any supported frame as pandas, strings as object columns with None for missing.

    Object columns keep None as None (pandas 3 string columns would turn it into NaN);
    integers are nullable Int64 so a missing id does not turn a column into floats.
    """
    table = to_arrow(frame)
    return table.to_pandas(types_mapper=_pandas_type).pipe(_strings_as_objects)


def _pandas_type(arrow_type: pa.DataType) -> Any:
    """Strings via ArrowDtype (turned into objects below), integers as nullable Int64."""
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return pd.ArrowDtype(arrow_type)
    if pa.types.is_integer(arrow_type):
        return pd.Int64Dtype()
    return None


def _strings_as_objects(frame: pd.DataFrame) -> pd.DataFrame:
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.ArrowDtype):
            values = frame[column].astype(object)
            frame[column] = values.where(values.notna(), None)
    return frame
