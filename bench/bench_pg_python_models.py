"""Benchmark of the bitrix_postgres Python-model path on a real PostgreSQL (not a test).

Starts a throwaway server (tests/postgres/pg_server.py: initdb + pg_ctl, as an unprivileged
user when run as root) unless --dsn names one, then for each row count:

- write: a Python model returns a frame (pyarrow, and pandas) of N rows with bigint,
  double, numeric, text, boolean, timestamp, timestamptz and date columns; the adapter's
  runtime writes it into a staging table with binary COPY (ADBC) - the exact code a
  `dbt run` executes (`run_python_model` with a compiled model);
- read: a Python model's `dbt.ref()` of that table into a pyarrow Table;
- baseline: the same table written with CSV COPY (pyarrow.csv + psycopg2 copy_expert).

Prints rows/s as a table and as JSON.

Usage::

    python bench/bench_pg_python_models.py                     # 1M rows
    python bench/bench_pg_python_models.py --rows 1000000 10000000
    python bench/bench_pg_python_models.py --dsn "host=H port=P user=U password=W dbname=D"
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "postgres"))
sys.path.insert(0, str(ROOT / "src"))

from dbt.adapters.bitrix_postgres import python_runtime as runtime  # noqa: E402

SCHEMA = "bench"

MODEL_CODE = """
import __main__


def model(dbt, session):
    return __main__.FRAME


class dbtObj:
    def __init__(self, load_df_function):
        self.ref = lambda name: load_df_function(name)
        self.is_incremental = False


{variable} = {{"database": None, "schema": "{schema}", "identifier": "{identifier}"}}
"""

READ_CODE = """
import time

import __main__


def model(dbt, session):
    started = time.perf_counter()
    table = dbt.ref('"{schema}"."{source}"')
    __main__.TIMINGS["read_seconds"] = time.perf_counter() - started
    __main__.TIMINGS["read_rows"] = table.num_rows
    return table.slice(0, 1)


class dbtObj:
    def __init__(self, load_df_function):
        self.ref = lambda name: load_df_function(name)
        self.is_incremental = False


{variable} = {{"database": None, "schema": "{schema}", "identifier": "{identifier}"}}
"""


def make_frame(rows: int, seed: int = 7) -> pa.Table:
    rng = np.random.default_rng(seed)
    ids = np.arange(rows, dtype=np.int64)
    amounts = rng.normal(1000, 300, rows)
    micros = 1_704_067_200_000_000 + rng.integers(0, 365 * 86_400_000_000, rows)
    words = np.array(["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"])
    text = pa.array(words[rng.integers(0, len(words), rows)]).cast(pa.string())
    text = pa.compute.binary_join_element_wise(text, pa.array(ids.astype(str)), "-")
    nulls = rng.random(rows) < 0.05
    return pa.table(
        {
            "id": ids,
            "amount": pa.array(amounts, mask=nulls),
            "price": pa.array(np.round(amounts, 2)).cast(pa.decimal128(18, 2)),
            "label": text,
            "is_paid": pa.array(rng.random(rows) < 0.5),
            "created_at": pa.array(micros, pa.timestamp("us")),
            "created_utc": pa.array(micros, pa.timestamp("us", tz="UTC")),
            "created_on": pa.array((micros // 86_400_000_000).astype(np.int32), pa.date32()),
        }
    )


def credentials_from(params: dict) -> SimpleNamespace:
    return SimpleNamespace(
        host=params["host"],
        port=params["port"],
        user=params["user"],
        password=params["password"],
        database=params["dbname"],
        connect_timeout=10,
        application_name="bench",
        keepalives_idle=0,
        sslmode=None,
        sslcert=None,
        sslkey=None,
        sslrootcert=None,
        search_path=None,
        role=None,
    )


# The models below reach the benchmark's frame and timings through __main__ (this script).
FRAME: object = None
TIMINGS: dict = {}


def run_model(code: str, credentials) -> float:
    started = time.perf_counter()
    runtime.run_python_model(code, credentials)
    return time.perf_counter() - started


def csv_copy(params: dict, table: pa.Table, name: str) -> float:
    import psycopg2

    connection = psycopg2.connect(**params)
    try:
        started = time.perf_counter()
        buffer = io.BytesIO()
        pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False))
        buffer.seek(0)
        with connection, connection.cursor() as cursor:
            cursor.execute(f'drop table if exists {SCHEMA}."{name}"')
            cursor.execute(
                f'create table {SCHEMA}."{name}" (id bigint, amount double precision, '
                "price numeric, label text, is_paid boolean, created_at timestamp, "
                "created_utc timestamptz, created_on date)"
            )
            cursor.copy_expert(f'copy {SCHEMA}."{name}" from stdin with (format csv)', buffer)
        return time.perf_counter() - started
    finally:
        connection.close()


def drop(params: dict, *names: str) -> None:
    import psycopg2

    connection = psycopg2.connect(**params)
    connection.autocommit = True
    with connection.cursor() as cursor:
        for name in names:
            cursor.execute(f'drop table if exists {SCHEMA}."{name}"')
    connection.close()


def bench(params: dict, rows: int) -> list[dict]:
    import psycopg2

    connection = psycopg2.connect(**params)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"create schema if not exists {SCHEMA}")
    connection.close()
    credentials = credentials_from(params)
    arrow_frame = make_frame(rows)
    pandas_frame = arrow_frame.to_pandas()
    results = []
    variable = runtime.TARGET_VARIABLE

    global FRAME
    drop(params, "w_arrow", "w_pandas", "r_out")
    FRAME = arrow_frame
    seconds = run_model(
        MODEL_CODE.format(variable=variable, schema=SCHEMA, identifier="w_arrow"), credentials
    )
    results.append({"path": "write pyarrow (binary COPY)", "rows": rows, "seconds": seconds})
    FRAME = pandas_frame
    seconds = run_model(
        MODEL_CODE.format(variable=variable, schema=SCHEMA, identifier="w_pandas"), credentials
    )
    results.append({"path": "write pandas (binary COPY)", "rows": rows, "seconds": seconds})
    TIMINGS.clear()
    run_model(
        READ_CODE.format(variable=variable, schema=SCHEMA, identifier="r_out", source="w_arrow"),
        credentials,
    )
    assert TIMINGS["read_rows"] == rows
    results.append(
        {"path": "read dbt.ref -> pyarrow", "rows": rows, "seconds": TIMINGS["read_seconds"]}
    )
    seconds = csv_copy(params, arrow_frame, "w_csv")
    results.append({"path": "baseline: CSV COPY (psycopg2)", "rows": rows, "seconds": seconds})
    drop(params, "w_arrow", "w_pandas", "r_out", "w_csv")
    for result in results:
        result["rows_per_second"] = round(result["rows"] / result["seconds"])
        result["seconds"] = round(result["seconds"], 3)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--dsn", help="libpq key=value string of an existing server")
    args = parser.parse_args(argv)

    server = None
    if args.dsn:
        params = dict(item.split("=", 1) for item in args.dsn.split())
        params["port"] = int(params.get("port", 5432))
    else:
        from pg_server import start_server

        server = start_server()
        params = server.create_database("bench")
    try:
        results = [row for rows in args.rows for row in bench(params, rows)]
    finally:
        if server is not None:
            server.stop()

    width = max(len(r["path"]) for r in results)
    print(f"{'path':<{width}}  {'rows':>10}  {'seconds':>8}  {'rows/s':>12}")
    for r in results:
        print(
            f"{r['path']:<{width}}  {r['rows']:>10,}  {r['seconds']:>8.3f}  "
            f"{r['rows_per_second']:>12,}"
        )
    print(json.dumps({"benchmark": "bench_pg_python_models", "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
