"""End-to-end benchmark of ``dbt build`` on PostgreSQL, the production target (a script,
not a test).

For each size it takes the generated export of ``bench_dbt_build.py`` (cached under
``--work``), starts a throwaway PostgreSQL server (``tests/postgres/pg_server.py``: initdb +
pg_ctl, with the memory settings below) unless ``--dsn`` names one, loads the export into
the raw schema ``bitrix`` as a MySQL replica would have it (text columns, upper-case
names, CSV ``COPY``) and runs ``dbt build --target prod`` (the project's own profile) on a
fresh database. Staging is incremental there too (it still reads every raw table each run).

Both runs take the shop at the end of the same ordinary hour as on DuckDB (the last hour
of the generated window's steady activity): the full build loads the export cut there.
Then the hourly run: a second database gets the export as it was at the start of that
hour and is built; its raw schema is then reloaded with the export at the end of the hour
(what replication delivers in that hour; the reload is timed apart, it is not dbt's
work) and ``dbt build`` runs again. Reported: wall and CPU time of the dbt process tree,
peak RSS of its largest process, node time by layer and the slowest models from
``run_results.json``; the server's own CPU is not in the CPU figure.

    python bench/bench_pg_build.py                        # 100k customers
    python bench/bench_pg_build.py --customers 100000 1000000 --json
    python bench/bench_pg_build.py --dsn "host=H port=P user=U password=W dbname=postgres"
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "postgres"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_dbt_build import (  # noqa: E402
    _machine,
    generated,
    hourly_exports,
    measured_build,
    print_layers,
)
from dbt_cli import prod_target_env  # noqa: E402
from loader import load_csv_dir  # noqa: E402
from pg_server import create_database, drop_database, start_server  # noqa: E402

from bitrix_omni.exports import TIME_COLUMNS  # noqa: E402

#: Server settings for the throwaway server (the test defaults are for tiny data).
SERVER_SETTINGS = {
    "shared_buffers": "2GB",
    "work_mem": "64MB",
    "maintenance_work_mem": "512MB",
    "max_wal_size": "4GB",
    "effective_cache_size": "8GB",
}


def _params_from_dsn(dsn: str) -> dict[str, Any]:
    fields = dict(part.split("=", 1) for part in dsn.split())
    return {
        "host": fields.get("host", "127.0.0.1"),
        "port": int(fields.get("port", 5432)),
        "user": fields["user"],
        "password": fields.get("password", ""),
        "dbname": fields.get("dbname", "postgres"),
    }


#: The year over which rows without a creation time are spread (``--loaded-at``).
FIRST_LOAD = "2024-01-01 00:00:00"


def _load(params: dict[str, Any], data: Path, loaded_at: bool = False) -> dict[str, Any]:
    """Loads the export into the raw schema; with ``loaded_at`` every table gets
    ``_LOADED_AT`` (timestamp) as a replication tool would stamp it: the row's creation
    time where the table has one, else a day of the year picked by a hash of the row (rows
    loaded over the year, not all at the newest load). The export one hour earlier and the
    full export then differ in their load times only by the new rows."""
    started = time.perf_counter()
    counts = load_csv_dir(params, data, "bitrix", upper_case=True)
    import psycopg2

    connection = psycopg2.connect(**params)
    connection.autocommit = True
    spread = (
        f"timestamp '{FIRST_LOAD}' + (abs(hashtext(cast(raw as text))) % 364) * interval '1 day'"
    )
    with connection.cursor() as cursor:
        if loaded_at:
            for table in counts:
                column = TIME_COLUMNS.get(table)
                stamp = (
                    f"""case when "{column}" ~ '^[0-9]{{4}}-' then cast("{column}" as timestamp)"""
                    f" else {spread} end"
                    if column
                    else spread
                )
                # a rewrite with the column, not an UPDATE of every row
                cursor.execute(
                    f'create table bitrix._stamped as select raw.*, {stamp} as "_LOADED_AT"'
                    f" from bitrix.{table} as raw; drop table bitrix.{table};"
                    f" alter table bitrix._stamped rename to {table}"
                )
        cursor.execute("analyze")
    connection.close()
    return {"seconds": round(time.perf_counter() - started, 1), "raw_rows": sum(counts.values())}


def dbt_build(params: dict[str, Any], run_dir: Path, dbt_vars: str = "") -> dict[str, Any]:
    """``dbt build --target prod`` on the database ``params`` (with ``--vars dbt_vars`` when
    given); timings, slowest models."""
    extra = ["--vars", dbt_vars] if dbt_vars else []
    return measured_build(["build", *extra], prod_target_env(params), run_dir)


def run_size(
    server: dict[str, Any],
    work: Path,
    customers: int,
    seed: int,
    incremental: bool,
    dbt_vars: str = "",
    loaded_at: bool = False,
) -> dict[str, Any]:
    data, _ = generated(work, customers, seed)
    exports = hourly_exports(work, data, customers, seed)
    full_db = create_database(server, f"bench_{customers}_full")
    loaded = _load(full_db, exports["current"], loaded_at)
    full = dbt_build(full_db, work / f"pg_run_{customers}_full", dbt_vars)
    # its disk is needed for the next one (1M customers: ~20 GB each)
    drop_database(server, full_db["dbname"])
    row: dict[str, Any] = {
        "customers": customers,
        "raw_rows": exports["current_raw_rows"],
        "cut_at": exports["hour"][1],
        "load_seconds": loaded["seconds"],
        "full_build": full,
        "raw_rows_per_second": round(exports["current_raw_rows"] / full["seconds"]),
    }
    if incremental:
        cutoff = exports["hour"][0]
        inc_db = create_database(server, f"bench_{customers}_incremental")
        _load(inc_db, exports["early"], loaded_at)
        run_dir = work / f"pg_run_{customers}_incremental"
        first = dbt_build(inc_db, run_dir, dbt_vars)
        reload = _load(inc_db, exports["current"], loaded_at)
        second = dbt_build(inc_db, run_dir, dbt_vars)
        row["incremental"] = {
            "cutoff": cutoff,
            "new_raw_rows": exports["new_raw_rows"],
            "first_build_seconds": first["seconds"],
            "reload_seconds": reload["seconds"],
            "hourly_run": second,
            "fraction_of_full_build": round(second["seconds"] / full["seconds"], 2),
        }
    return row


def _print(rows: list[dict[str, Any]]) -> None:
    print(f"machine: {_machine()}")
    head = ["customers", "raw rows", "load s", "build s", "cpu s", "hourly s", "hourly/full"]
    print(" | ".join(f"{h:>11}" for h in head))
    for row in rows:
        inc = row.get("incremental", {})
        cells = [
            f"{row['customers']:,}",
            f"{row['raw_rows']:,}",
            row["load_seconds"],
            row["full_build"]["seconds"],
            row["full_build"]["cpu_seconds"],
            inc.get("hourly_run", {}).get("seconds", ""),
            inc.get("fraction_of_full_build", ""),
        ]
        print(" | ".join(f"{c!s:>11}" for c in cells))
    for row in rows:
        print_layers(row)
        print(f"slowest models, {row['customers']:,} customers (seconds):")
        for model in row["full_build"]["top_models"][:8]:
            print(f"  {model['seconds']:>8}  {model['model']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[100_000], help="sizes")
    parser.add_argument(
        "--work", type=Path, default=Path("/tmp/bitrix_omni_bench"), help="cache and runs"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dsn", help="an existing server (a superuser: creates databases)")
    parser.add_argument("--no-incremental", action="store_true", help="full builds only")
    parser.add_argument("--vars", default="", help="dbt --vars for every build (YAML)")
    parser.add_argument(
        "--loaded-at",
        action="store_true",
        help="raw tables with a replication load-time column, and staging told to use it",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    dbt_vars = args.vars
    if args.loaded_at:
        if dbt_vars:
            parser.error("--loaded-at sets --vars itself")
        dbt_vars = "{bitrix_omni_loaded_at_column: _loaded_at}"
    server = None
    if args.dsn:
        params = _params_from_dsn(args.dsn)
    else:
        server = start_server(SERVER_SETTINGS)
        params = server.params
    try:
        rows = []
        for customers in args.customers:
            rows.append(
                run_size(
                    params,
                    args.work,
                    customers,
                    args.seed,
                    not args.no_incremental,
                    dbt_vars,
                    args.loaded_at,
                )
            )
            print(f"done {customers:,} customers", file=sys.stderr)
    finally:
        if server is not None:
            server.stop()
    if args.json:
        report = {
            "machine": _machine(),
            "server": SERVER_SETTINGS,
            "vars": dbt_vars,
            "sizes": rows,
        }
        print(json.dumps(report, indent=2))
    else:
        _print(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
