"""Data tests on the rows the runs wrote (macros/test_scope.sql): after a passing build the
tests of stamped models read only rows stamped after their mark, uniqueness tests every row
of those keys; a failing test keeps failing; `bitrix_omni_test_scope: all` reads everything."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
from dbt_runner import PROJECT_DIR, DbtRun, run_dbt

pytestmark = pytest.mark.integration

DEMO = PROJECT_DIR / "data" / "demo"
USERS = "main_staging.stg_bitrix__users"
ATTRIBUTION = "main.bl_order_attribution"
UNIQUE_USERS = "unique_stg_bitrix__users_user_id"
UNIQUE_ATTRIBUTION = "dbt_utils_unique_combination_of_columns_bl_order_attribution"
ALL_ROWS = ["--vars", "{bitrix_omni_test_scope: all}"]


def execute(run: DbtRun, *statements: str) -> None:
    with duckdb.connect(str(run.database)) as connection:
        for statement in statements:
            connection.execute(statement)


def copy_row(table: str, where: str, stamp_column: str, stamp: str) -> str:
    """An insert of a copy of the first matching row with another stamp."""
    return (
        f"insert into {table} select * replace (cast('{stamp}' as timestamp) as {stamp_column})"
        f" from {table} where {where} limit 1"
    )


def failed(run: DbtRun) -> set[str]:
    """The names of the tests that failed, from dbt's progress lines ("3 of 9 FAIL 1 name")."""
    return set(re.findall(r"\d+ of \d+ FAIL \d+ (\S+)", run.output))


def compiled_test(work_dir: Path, name: str) -> str:
    (path,) = (work_dir / "target" / "run").rglob(f"{name}.sql")
    return path.read_text()


def test_tests_read_the_rows_written_since_they_passed(tmp_path: Path) -> None:
    build = run_dbt(["build"], DEMO, tmp_path)
    assert build.returncode == 0, build.output[-6000:]
    marks = dict(build.query("select test_id, tested_through from main.bitrix_omni_test_marks"))
    run_start = build.query(f"select max(_staged_at) from {USERS}")[0][0]
    unique_users = next(mark for test_id, mark in marks.items() if UNIQUE_USERS in test_id)
    assert unique_users == run_start
    assert not any("relationships" in test_id for test_id in marks)

    # a later run writes a row repeating an old user's key, and a direct (no touchpoint)
    # attribution row twice: the tests must see both old rows through the written keys
    execute(
        build,
        copy_row(USERS, "true", "_staged_at", "2999-01-01"),
        copy_row(ATTRIBUTION, "touchpoint_id is null", "_built_at", "2999-01-01"),
    )
    selected = ["--select", "stg_bitrix__users", "bl_order_attribution"]
    scoped = run_dbt(["test", *selected], DEMO, tmp_path)
    assert scoped.returncode != 0
    assert f"_staged_at > cast('{run_start}" in compiled_test(tmp_path, UNIQUE_USERS)
    failing = failed(scoped)
    assert UNIQUE_USERS in failing
    assert any(name.startswith(UNIQUE_ATTRIBUTION) for name in failing)

    # a failing test keeps its mark: it fails again
    again = run_dbt(["test", "--select", "stg_bitrix__users"], DEMO, tmp_path)
    assert UNIQUE_USERS in failed(again)

    # the duplicate stamped before the mark (a change by hand, no run wrote it): the hourly
    # scope does not read it, the nightly `all` does
    execute(
        build,
        f"delete from {USERS} where _staged_at = cast('2999-01-01' as timestamp)",
        copy_row(USERS, "true", "_staged_at", "2000-01-01"),
    )
    hourly = run_dbt(["test", "--select", "stg_bitrix__users"], DEMO, tmp_path)
    assert hourly.returncode == 0, hourly.output[-4000:]
    nightly = run_dbt(["test", "--select", "stg_bitrix__users", *ALL_ROWS], DEMO, tmp_path)
    assert UNIQUE_USERS in failed(nightly)
    assert "_staged_at > cast(" not in compiled_test(tmp_path, UNIQUE_USERS)

    unknown = run_dbt(
        ["test", "--select", "stg_bitrix__users", "--vars", "{bitrix_omni_test_scope: hourly}"],
        DEMO,
        tmp_path,
    )
    assert unknown.returncode != 0
    assert "bitrix_omni_test_scope must be 'written' or 'all', not 'hourly'" in unknown.output
