"""Runs the real dbt project on DuckDB against a raw-data directory (shared by the tests)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb

PROJECT_DIR = Path(__file__).resolve().parents[2]

#: Columns stamped with run times, which differ between two builds of the same data: when
#: the cache normalized a value, when a run wrote a record's rows (macros/record_changes.sql).
RUN_STAMPS = ("normalized_at", "_changed_at", "_normalized_through", "_built_at")


@dataclass
class DbtRun:
    """The outcome of one `dbt` command on a throwaway DuckDB file."""

    database: Path
    returncode: int
    output: str

    def query(self, sql: str, parameters: list | None = None) -> list[tuple]:
        with duckdb.connect(str(self.database), read_only=True) as connection:
            return connection.execute(sql, parameters).fetchall()

    def scalar(self, sql: str):
        return self.query(sql)[0][0]

    def columns(self, table: str) -> list[str]:
        """The column names of `schema.table`, in order."""
        return [
            name
            for (name,) in self.query(
                "select column_name from information_schema.columns"
                " where table_schema = ? and table_name = ? order by ordinal_position",
                table.split("."),
            )
        ]

    def rows_without(self, table: str, columns: tuple[str, ...] = RUN_STAMPS) -> list[tuple]:
        """All rows of `schema.table`, ordered, without those of `columns` it has."""
        present = [column for column in self.columns(table) if column in columns]
        exclude = f" exclude ({', '.join(present)})" if present else ""
        return self.query(f"select *{exclude} from {table} order by all")


def staging_tables(run: DbtRun) -> list[str]:
    """The staging tables built from raw tables (not the deleted-keys log), by name."""
    return [
        row[0]
        for row in run.query(
            "select table_name from information_schema.tables"
            " where table_schema = 'main_staging' and table_name <> 'stg_bitrix__deleted_keys'"
            " order by 1"
        )
    ]


def assert_staging_equal(run: DbtRun, reference: DbtRun) -> None:
    """`run` has the 22 staging tables of `reference`, row for row (without `_staged_at`,
    when each run staged a row)."""
    tables = staging_tables(reference)
    assert len(tables) == 22
    assert staging_tables(run) == tables
    for table in tables:
        assert run.rows_without(f"main_staging.{table}", ("_staged_at",)) == (
            reference.rows_without(f"main_staging.{table}", ("_staged_at",))
        ), table


def run_dbt(
    args: list[str],
    data_dir: Path,
    work_dir: Path,
    extra_env: dict[str, str] | None = None,
) -> DbtRun:
    """Run dbt in a subprocess with its own DuckDB file, target and log folders."""
    database = work_dir / "warehouse.duckdb"
    env = {
        **os.environ,
        "BITRIX_DATA_DIR": str(data_dir),
        "BITRIX_OMNI_DUCKDB_PATH": str(database),
        "BITRIX_OMNI_TARGET": "dev",
        "DBT_PROFILES_DIR": str(PROJECT_DIR),
        "DBT_TARGET_PATH": str(work_dir / "target"),
        "DBT_LOG_PATH": str(work_dir / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        **(extra_env or {}),
    }
    dbt = shutil.which("dbt", path=str(Path(sys.executable).parent)) or "dbt"
    completed = subprocess.run(
        [dbt, *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return DbtRun(database, completed.returncode, completed.stdout + completed.stderr)
