"""The Python-model writer and reader of the bitrix_postgres adapter, on the real server.

Type mapping, NULL handling (pandas NaN / NA / None / NaT), JSON columns, tz-aware
timestamps, arrays, and the reader's types.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math

import pandas as pd
import psycopg2
import pyarrow as pa
import pytest

from dbt.adapters.bitrix_postgres import python_runtime as runtime


class _Credentials:
    """The fields of dbt-postgres credentials the runtime reads."""

    def __init__(self, params: dict) -> None:
        self.host = params["host"]
        self.port = params["port"]
        self.user = params["user"]
        self.password = params["password"]
        self.database = params["dbname"]
        self.connect_timeout = 10
        self.application_name = "tests"
        self.keepalives_idle = 0
        self.sslmode = self.sslcert = self.sslkey = self.sslrootcert = None
        self.search_path = None
        self.role = None


@pytest.fixture(scope="module")
def db(pg_server) -> dict:
    return pg_server.create_database("writer_tests")


@pytest.fixture()
def adbc(db):
    connection = runtime.connect(_Credentials(db))
    yield connection
    connection.close()


@pytest.fixture()
def pg(db):
    connection = psycopg2.connect(**db)
    connection.autocommit = True
    yield connection
    connection.close()


def _types(pg, table: str) -> dict[str, str]:
    with pg.cursor() as cursor:
        cursor.execute(
            "select attname, format_type(atttypid, atttypmod) from pg_attribute "
            "where attrelid = %s::regclass and attnum > 0 and not attisdropped order by attnum",
            (f"public.{table}",),
        )
        return dict(cursor.fetchall())


def _rows(pg, sql: str) -> list[tuple]:
    with pg.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def _write(adbc, pg, frame, name: str) -> dict[str, str]:
    with pg.cursor() as cursor:
        cursor.execute(f"drop table if exists public.{name}")
    runtime.write_table(adbc, frame, "public", name)
    return _types(pg, name)


def test_pandas_types_and_nulls(adbc, pg):
    frame = pd.DataFrame(
        {
            "i": pd.array([1, None, 3], dtype="Int64"),
            "i_np": [1, 2, 3],
            "f": [1.5, math.nan, None],
            "d": [decimal.Decimal("1.2500"), None, decimal.Decimal("-3.1")],
            "s": ["a", None, math.nan],
            "s_pd": pd.array(["x", pd.NA, "z"], dtype="string"),
            "b": pd.array([True, None, False], dtype="boolean"),
            "ts": pd.to_datetime(
                ["2024-01-01 10:00:00", None, "2024-03-01 00:00:01.5"], format="ISO8601"
            ),
            "tz": pd.to_datetime(
                ["2024-01-01 10:00:00+03:00", None, "2024-06-01 00:00:00Z"],
                utc=True,
                format="ISO8601",
            ),
            "dt": [dt.date(2024, 1, 2), None, dt.date(2024, 12, 31)],
            "j": [{"a": 1, "b": [1, 2]}, None, {"c": "ы"}],
            "jl": [[{"k": 1}], None, []],
            "arr": [[1, 2], None, [3]],
            "cat": pd.Categorical(["p", None, "q"]),
        }
    )
    types = _write(adbc, pg, frame, "pandas_types")
    assert types == {
        "i": "bigint",
        "i_np": "bigint",
        "f": "double precision",
        "d": "numeric",
        "s": "text",
        "s_pd": "text",
        "b": "boolean",
        "ts": "timestamp without time zone",
        "tz": "timestamp with time zone",
        "dt": "date",
        "j": "jsonb",
        "jl": "jsonb",
        "arr": "bigint[]",
        "cat": "text",
    }
    rows = _rows(
        pg,
        "select i, f, d, s, s_pd, b, ts, tz at time zone 'UTC', dt, j, jl, arr, cat "
        "from public.pandas_types order by i_np",
    )
    assert rows[0] == (
        1,
        1.5,
        decimal.Decimal("1.2500"),
        "a",
        "x",
        True,
        dt.datetime(2024, 1, 1, 10),
        dt.datetime(2024, 1, 1, 7),
        dt.date(2024, 1, 2),
        {"a": 1, "b": [1, 2]},
        [{"k": 1}],
        [1, 2],
        "p",
    )
    # every kind of pandas missing value is a SQL NULL (NaN in a float column too)
    assert rows[1] == (None,) * 13
    assert rows[2][1] is None and rows[2][3] is None
    assert rows[2][6] == dt.datetime(2024, 3, 1, 0, 0, 1, 500000)
    assert rows[2][10] == [] and rows[2][9] == {"c": "ы"}


def test_pyarrow_types(adbc, pg):
    table = pa.table(
        {
            "i32": pa.array([1, None], pa.int32()),
            "u64": pa.array([2**64 - 1, None], pa.uint64()),
            "dec": pa.array([decimal.Decimal("12.345"), None], pa.decimal128(10, 3)),
            "st": pa.array(
                [{"x": 1, "y": "a"}, None], pa.struct([("x", pa.int64()), ("y", pa.string())])
            ),
            "m": pa.array([[("k", 1)], None], pa.map_(pa.string(), pa.int64())),
            "ls": pa.array([["a", None], None], pa.list_(pa.string())),
            "ts_ns": pa.array([1_700_000_000_123_456_789, None], pa.timestamp("ns")),
            "tz_msk": pa.array([0, None], pa.timestamp("us", tz="Europe/Moscow")),
            "ts_s": pa.array([1_700_000_000, None], pa.timestamp("s")),
            "nul": pa.nulls(2),
            "bin": pa.array([b"\x00\x01", None]),
            "ls_large": pa.array(["q", None], pa.large_string()),
            "f_nan": pa.array([math.nan, None], pa.float64()),
        }
    )
    types = _write(adbc, pg, table, "arrow_types")
    assert types == {
        "i32": "integer",
        "u64": "numeric",
        "dec": "numeric",  # unconstrained: a later incremental run may carry wider values
        "st": "jsonb",
        "m": "jsonb",
        "ls": "text[]",
        "ts_ns": "timestamp without time zone",
        "tz_msk": "timestamp with time zone",
        "ts_s": "timestamp without time zone",
        "nul": "text",
        "bin": "bytea",
        "ls_large": "text",
        "f_nan": "double precision",
    }
    rows = _rows(
        pg, "select u64, st, m, ls, tz_msk at time zone 'UTC', f_nan, ts_s, ts_ns from arrow_types"
    )
    assert rows[0][0] == decimal.Decimal(2**64 - 1)
    assert rows[0][1] == {"x": 1, "y": "a"}
    assert rows[0][2] == [["k", 1]]
    assert rows[0][3] == ["a", None]
    assert rows[0][4] == dt.datetime(1970, 1, 1)
    assert math.isnan(rows[0][5])  # a NaN inside a pyarrow float column is data, not NULL
    assert rows[0][6] == dt.datetime(2023, 11, 14, 22, 13, 20)
    assert rows[0][7] == dt.datetime(2023, 11, 14, 22, 13, 20, 123456)  # ns -> us
    assert rows[1] == (None,) * 8


def test_empty_frame_keeps_columns(adbc, pg):
    frame = pd.DataFrame({"a": pd.array([], dtype="Int64"), "b": pd.Series([], dtype=object)})
    types = _write(adbc, pg, frame, "empty_frame")
    assert types == {"a": "bigint", "b": "text"}
    assert _rows(pg, "select count(*) from empty_frame") == [(0,)]


def test_reader_types(adbc, pg):
    with pg.cursor() as cursor:
        cursor.execute(
            "drop table if exists read_types; create table read_types as select "
            "1::bigint i, 1.5::numeric(18,4) d, 2.25::numeric n, '{\"a\": 1}'::jsonb j, "
            "'t'::boolean b, timestamp '2024-01-01 01:02:03' ts, "
            "timestamptz '2024-01-01 01:02:03+00' tz, date '2024-01-01' dt, "
            "'{1,2}'::int[] arr, 'x'::varchar(5) v, null::text nul"
        )
    table = runtime.read_query(adbc, "select * from read_types")
    assert table.schema.field("i").type == pa.int64()
    assert table.schema.field("d").type == pa.decimal128(18, 4)
    assert pa.types.is_decimal(table.schema.field("n").type)
    assert table.column("n").to_pylist() == [decimal.Decimal("2.25")]
    assert table.schema.field("j").type == pa.string()
    assert table.column("j").to_pylist() == ['{"a": 1}']
    assert table.schema.field("tz").type == pa.timestamp("us", tz="UTC")
    assert table.column("arr").to_pylist() == [[1, 2]]
    assert table.column("nul").to_pylist() == [None]


def test_failed_write_leaves_nothing(adbc, pg):
    frame = pd.DataFrame({"a": [1], "A": [2]})
    frame.columns = ["a", "a"]
    with pytest.raises(ValueError, match="duplicate"):
        runtime.write_table(adbc, frame, "public", "dup_columns")
    assert _rows(pg, "select to_regclass('public.dup_columns')") == [(None,)]
