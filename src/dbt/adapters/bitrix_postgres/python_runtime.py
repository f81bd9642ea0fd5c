"""Python model runtime: read relations into pyarrow, write frames with binary COPY.

A compiled Python model (user code + dbt's postfix + the footer written by the
`bitrix_postgres__py_write_table` macro) is executed in the dbt process. Reads and the
write go through an ADBC PostgreSQL connection (libpq, binary COPY both ways); the result
is written into a fresh staging table of its own name, committed, and the materialization
then swaps it in (or merges it) in one transaction on dbt's own connection. A model that
fails leaves nothing behind and the target untouched.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

TARGET_VARIABLE = "__bitrix_postgres_target__"

# --------------------------------------------------------------------------------------
# connection
# --------------------------------------------------------------------------------------


def _quote_conninfo(value: Any) -> str:
    text = str(value)
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def conninfo(credentials: Any) -> str:
    """A libpq keyword/value string with the same settings dbt-postgres connects with."""
    fields: dict[str, Any] = {
        "host": credentials.host,
        "port": credentials.port,
        "user": credentials.user,
        "password": credentials.password,
        "dbname": credentials.database,
        "connect_timeout": credentials.connect_timeout,
        "application_name": f"{credentials.application_name or 'dbt'}-python",
    }
    if credentials.keepalives_idle:
        fields["keepalives_idle"] = credentials.keepalives_idle
    for key in ("sslmode", "sslcert", "sslkey", "sslrootcert"):
        if getattr(credentials, key, None):
            fields[key] = getattr(credentials, key)
    if credentials.search_path:
        fields["options"] = "-c search_path={}".format(credentials.search_path.replace(" ", "\\ "))
    return " ".join(f"{key}={_quote_conninfo(value)}" for key, value in fields.items())


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def connect(credentials: Any):
    """An ADBC DBAPI connection to the profile's database (role applied)."""
    import adbc_driver_postgresql.dbapi

    connection = adbc_driver_postgresql.dbapi.connect(conninfo(credentials))
    if getattr(credentials, "role", None):
        with connection.cursor() as cursor:
            cursor.adbc_statement.set_sql_query(f"set role {quote_identifier(credentials.role)}")
            cursor.adbc_statement.execute_update()
        connection.commit()
    return connection


def execute_statement(connection: Any, sql: str) -> None:
    """Run a statement that returns no rows (DDL/DML) on an ADBC connection."""
    with connection.cursor() as cursor:
        cursor.adbc_statement.set_sql_query(sql)
        cursor.adbc_statement.execute_update()


# --------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------

_NUMERIC_TYPES = {"numeric", "decimal"}


def _numeric_to_arrow(values: pa.ChunkedArray, typmod: int) -> pa.ChunkedArray:
    """PostgreSQL numeric (text from ADBC) -> decimal128; unconstrained with NaN -> float64."""
    values = values.cast(pa.string())
    if typmod >= 4:
        precision, scale = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
        if 0 < precision <= 38:
            return values.cast(pa.decimal128(precision, scale))
    dot = pc.find_substring(values, ".")
    fraction = pc.if_else(
        pc.greater_equal(dot, 0), pc.subtract(pc.utf8_length(values), pc.add(dot, 1)), 0
    )
    scale = pc.max(fraction).as_py() or 0
    integer_digits = pc.max(pc.if_else(pc.greater_equal(dot, 0), dot, pc.utf8_length(values)))
    integer_digits = integer_digits.as_py() or 1
    if scale + integer_digits <= 38:
        try:
            return values.cast(pa.decimal128(min(38, max(integer_digits + scale, 1)), scale))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    return values.cast(pa.float64())


def normalize_read(table: pa.Table) -> pa.Table:
    """Plain Arrow types out of what ADBC returns: numeric -> decimal, json -> string."""
    columns, fields = [], []
    for field, column in zip(table.schema, table.columns, strict=True):
        metadata = field.metadata or {}
        if isinstance(column.type, pa.BaseExtensionType):
            column = pa.chunked_array(
                [chunk.storage for chunk in column.chunks], type=column.type.storage_type
            )
        if metadata.get(b"POSTGRESQL:type", b"").decode() in _NUMERIC_TYPES:
            typmod = int(metadata.get(b"POSTGRESQL:typmod", b"-1") or -1)
            column = _numeric_to_arrow(column, typmod)
        columns.append(column)
        fields.append(pa.field(field.name, column.type))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def read_query(connection: Any, sql: str) -> pa.Table:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return normalize_read(cursor.fetch_arrow_table())


# --------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return True
    except ImportError:  # pragma: no cover
        pass
    return isinstance(value, float) and math.isnan(value)


def _json_array(values: list[Any]) -> pa.Array:
    return pa.array(
        [
            None if _is_missing(v) else json.dumps(v, default=_json_default, ensure_ascii=False)
            for v in values
        ],
        pa.string(),
    )


def _is_json_type(data_type: pa.DataType) -> bool:
    """Arrow types written as jsonb: structs, maps, unions and lists of non-scalars."""
    if pa.types.is_struct(data_type) or pa.types.is_map(data_type) or pa.types.is_union(data_type):
        return True
    if (
        pa.types.is_list(data_type)
        or pa.types.is_large_list(data_type)
        or pa.types.is_fixed_size_list(data_type)
        or pa.types.is_list_view(data_type)
        or pa.types.is_large_list_view(data_type)
    ):
        value_type = data_type.value_type
        return (
            _is_json_type(value_type)
            or pa.types.is_list(value_type)
            or pa.types.is_large_list(value_type)
            or pa.types.is_null(value_type)
        )
    return False


def _pandas_to_arrow(frame: Any) -> tuple[pa.Table, set[str]]:
    """pandas -> Arrow; object columns of dicts / nested lists become JSON text."""
    import pandas as pd

    json_columns: set[str] = set()
    arrays, names = [], []
    for position, name in enumerate(frame.columns):
        series = frame.iloc[:, position]
        name = str(name)
        names.append(name)
        if series.dtype == object:
            present = [v for v in series.head(1000).tolist() if not _is_missing(v)]
            if any(isinstance(v, dict) for v in present) or any(
                isinstance(v, (list, tuple)) and any(isinstance(x, (dict, list, tuple)) for x in v)
                for v in present
            ):
                arrays.append(_json_array(series.tolist()))
                json_columns.add(name)
                continue
            try:
                arrays.append(pa.array(series, from_pandas=True))
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                if any(isinstance(v, (list, tuple)) for v in present):
                    arrays.append(_json_array(series.tolist()))
                    json_columns.add(name)
                else:
                    arrays.append(
                        pa.array(
                            [None if _is_missing(v) else str(v) for v in series.tolist()],
                            pa.string(),
                        )
                    )
            continue
        if isinstance(series.dtype, pd.CategoricalDtype):
            series = series.astype(series.cat.categories.dtype)
        arrays.append(pa.array(series, from_pandas=True))
    return pa.Table.from_arrays(arrays, names=names), json_columns


def to_arrow_table(frame: Any) -> tuple[pa.Table, set[str]]:
    """Any returned frame (pandas, polars, pyarrow, DuckDB relation) -> (Table, json columns)."""
    if isinstance(frame, pa.Table):
        return frame, set()
    if isinstance(frame, pa.RecordBatch):
        return pa.Table.from_batches([frame]), set()
    if isinstance(frame, pa.RecordBatchReader):
        return frame.read_all(), set()
    module = type(frame).__module__
    if module.startswith("pandas"):
        import pandas as pd

        if isinstance(frame, pd.Series):
            frame = frame.to_frame()
        return _pandas_to_arrow(frame)
    if module.startswith("polars"):
        if hasattr(frame, "collect"):  # LazyFrame
            frame = frame.collect()
        return frame.to_arrow(), set()
    for method in ("to_arrow_table", "fetch_arrow_table", "arrow", "to_arrow"):
        if hasattr(frame, method):
            result = getattr(frame, method)()
            if isinstance(result, pa.RecordBatchReader):
                result = result.read_all()
            if isinstance(result, pa.Table):
                return result, set()
    raise TypeError(
        f"a Python model must return a pandas/polars DataFrame or a pyarrow Table, "
        f"not {type(frame).__name__}"
    )


def prepare_for_copy(
    table: pa.Table, json_columns: set[str] = frozenset()
) -> tuple[pa.Table, dict]:
    """Types the binary COPY writer accepts, and the SQL types to cast columns to afterwards.

    int* -> smallint/integer/bigint, uint64 -> numeric, float -> real/double precision,
    decimal -> numeric, string -> text, bool -> boolean, timestamp -> timestamp (with a time
    zone -> timestamptz), date -> date, binary -> bytea, list of scalars -> array,
    struct/map/nested list (and pandas dict/list objects) -> jsonb, all-null -> text.
    """
    casts: dict[str, str] = {name: "jsonb" for name in json_columns}
    columns, fields = [], []
    for field, column in zip(table.schema, table.columns, strict=True):
        data_type = field.type
        if isinstance(data_type, pa.BaseExtensionType):
            column = pa.chunked_array(
                [chunk.storage for chunk in column.chunks], type=data_type.storage_type
            )
            data_type = column.type
        if pa.types.is_dictionary(data_type):
            column = column.cast(data_type.value_type)
            data_type = column.type
        if field.name in casts:
            pass
        elif _is_json_type(data_type):
            column = _json_array(column.to_pylist())
            casts[field.name] = "jsonb"
        elif pa.types.is_null(data_type):
            column = column.cast(pa.string())
        elif pa.types.is_uint64(data_type):
            column = column.cast(pa.decimal128(20, 0))
        elif pa.types.is_unsigned_integer(data_type):
            column = column.cast(
                {8: pa.int16(), 16: pa.int32(), 32: pa.int64()}[data_type.bit_width]
            )
        elif pa.types.is_float16(data_type):
            column = column.cast(pa.float32())
        elif pa.types.is_string_view(data_type) or pa.types.is_large_string(data_type):
            column = column.cast(pa.string())
        elif pa.types.is_decimal256(data_type) or (
            pa.types.is_decimal(data_type) and data_type.precision > 38
        ):
            column = column.cast(pa.string())
            casts[field.name] = "numeric"
        elif pa.types.is_large_binary(data_type) or pa.types.is_binary_view(data_type):
            column = column.cast(pa.binary())
        elif pa.types.is_date64(data_type):
            column = column.cast(pa.date32())
        elif pa.types.is_timestamp(data_type) and data_type.unit != "us":
            # PostgreSQL keeps microseconds: s/ms widen exactly, ns is truncated
            column = column.cast(pa.timestamp("us", tz=data_type.tz), safe=False)
        columns.append(column)
        fields.append(pa.field(field.name, column.type))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields)), casts


def write_table(connection: Any, frame: Any, schema: str, identifier: str) -> int:
    """Create schema.identifier (must not exist) from the frame with binary COPY; commit."""
    table, json_columns = to_arrow_table(frame)
    if len(set(table.column_names)) != len(table.column_names):
        raise ValueError(f"the model returned duplicate column names: {table.column_names}")
    table, casts = prepare_for_copy(table, json_columns)
    relation = f"{quote_identifier(schema)}.{quote_identifier(identifier)}"
    try:
        with connection.cursor() as cursor:
            cursor.adbc_ingest(identifier, table, mode="create", db_schema_name=schema)
        if casts:
            execute_statement(
                connection,
                f"alter table {relation} "
                + ", ".join(
                    f"alter column {quote_identifier(n)} type {t} using {quote_identifier(n)}::{t}"
                    for n, t in casts.items()
                ),
            )
        connection.commit()
    except BaseException:
        connection.rollback()
        drop_table(connection, schema, identifier)
        raise
    return table.num_rows


def drop_table(connection: Any, schema: str, identifier: str) -> None:
    try:
        execute_statement(
            connection,
            f"drop table if exists {quote_identifier(schema)}.{quote_identifier(identifier)}",
        )
        connection.commit()
    except Exception:  # the connection may be broken; the materialization cleans up too
        with contextlib.suppress(Exception):
            connection.rollback()


def drop_stale_staging(connection: Any, schema: str, identifier: str) -> None:
    """Drop staging tables of this model that an interrupted earlier run left behind.

    Staging names are `<target[:44]>__dbt_py_<10 chars of the invocation id>`.
    """
    prefix, token = identifier[:-10], identifier[-10:]
    if not prefix.endswith("__dbt_py_"):
        return
    schema_literal, prefix_literal = (value.replace("'", "''") for value in (schema, prefix))
    names = read_query(
        connection,
        f"select tablename from pg_catalog.pg_tables where schemaname = '{schema_literal}' "
        f"and left(tablename, {len(prefix)}) = '{prefix_literal}' "
        f"and length(tablename) = {len(identifier)}",
    ).column(0)
    connection.rollback()
    for name in names.to_pylist():
        if name != identifier and name[-10:] != token:
            drop_table(connection, schema, name)


# --------------------------------------------------------------------------------------
# the session handed to model(dbt, session)
# --------------------------------------------------------------------------------------


class Relation:
    """What `dbt.ref()` and `dbt.source()` hand a Python model: the relation's pyarrow
    Table, read when first used.

    Every attribute of a pyarrow Table works on it (`num_rows`, `slice`, `to_pandas`,
    `relation["column"]`, ...). Before it is read, `project(columns)` narrows it (only
    those columns cross the wire) and `sql_query()` gives its SQL, for models that filter
    or join it in the warehouse first (as dbt-duckdb's relations allow).
    """

    def __init__(self, connection: Any, query: str) -> None:
        self._connection = connection
        self._query = query
        self._table: pa.Table | None = None

    def sql_query(self) -> str:
        return self._query

    def project(self, columns: str) -> Relation:
        return Relation(self._connection, f"select {columns} from ({self._query}) as projected")

    def to_arrow_table(self) -> pa.Table:
        if self._table is None:
            self._table = read_query(self._connection, self._query)
        return self._table

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # not a Table attribute: no read for it
            raise AttributeError(name)
        return getattr(self.to_arrow_table(), name)

    def __getitem__(self, key: Any) -> Any:
        return self.to_arrow_table()[key]

    def __len__(self) -> int:
        return len(self.to_arrow_table())


class Session:
    """`session` of a Python model: `sql(query)` -> pyarrow Table, plus small helpers."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def sql(self, query: str) -> pa.Table:
        """Run a query (anything `COPY (...) TO STDOUT` accepts) and return its rows."""
        return read_query(self.connection, query)

    def table(self, relation: Any) -> pa.Table:
        return read_query(self.connection, f"select * from {relation}")

    def execute(self, statement: str) -> None:
        """Run a statement that returns no rows, committed at once."""
        execute_statement(self.connection, statement)
        self.connection.commit()

    def createDataFrame(self, data: Any, schema: Any = None) -> Any:
        import pandas as pd

        return pd.DataFrame(data, columns=list(schema) if schema is not None else None)


@dataclass
class PythonModelResult:
    rows: int
    seconds: float


def run_python_model(compiled_code: str, credentials: Any) -> PythonModelResult:
    """Execute the compiled model; write its result into the footer's staging table."""
    started = time.perf_counter()
    namespace: dict[str, Any] = {"__name__": "__dbt_python_model__"}
    exec(compile(compiled_code, "<dbt python model>", "exec"), namespace)
    target = namespace[TARGET_VARIABLE]
    connection = connect(credentials)
    try:
        drop_stale_staging(connection, target["schema"], target["identifier"])
        session = Session(connection)

        def load(relation_name: str) -> Relation:
            return Relation(connection, f"select * from {relation_name}")

        dbt = namespace["dbtObj"](load)
        frame = namespace["model"](dbt, session)
        connection.rollback()  # nothing the model read keeps a lock or a snapshot
        rows = write_table(connection, frame, target["schema"], target["identifier"])
    finally:
        connection.close()
    return PythonModelResult(rows=rows, seconds=time.perf_counter() - started)
