"""Data tests on the rows the runs wrote (macros/test_scope.sql): after a passing build the
tests of stamped models read only rows stamped after their mark, uniqueness tests every row
of those keys; a failing test keeps failing; `bitrix_omni_test_scope: all` reads everything."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import duckdb
import pytest
from dbt_runner import PROJECT_DIR, RUN_STAMPS, DbtRun, run_dbt
from export_edits import mutate

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

    # `--empty` tests read no rows: no mark moves, and the incremental hooks delete nothing
    marks_before = build.query("select * from main.bitrix_omni_test_marks order by all")
    users_before = build.query(f"select count(*) from {USERS}")
    empty = run_dbt(["build", "--empty", "--select", "stg_bitrix__users"], DEMO, tmp_path)
    assert empty.returncode == 0, empty.output[-4000:]
    assert build.query("select * from main.bitrix_omni_test_marks order by all") == marks_before
    assert build.query(f"select count(*) from {USERS}") == users_before
    # nor do the incremental models' scoped runs (every stored key would look gone)
    counts_before = incremental_row_counts(build, tmp_path)
    assert counts_before["main_intermediate.int_journeys__touchpoints"] > 0
    empty_models = run_dbt(
        ["run", "--empty", "--select", "config.materialized:incremental"], DEMO, tmp_path
    )
    assert empty_models.returncode == 0, empty_models.output[-4000:]
    assert incremental_row_counts(build, tmp_path) == counts_before

    unknown = run_dbt(
        ["test", "--select", "stg_bitrix__users", "--vars", "{bitrix_omni_test_scope: hourly}"],
        DEMO,
        tmp_path,
    )
    assert unknown.returncode != 0
    assert "bitrix_omni_test_scope must be 'written' or 'all', not 'hourly'" in unknown.output


def incremental_row_counts(run: DbtRun, work_dir: Path) -> dict[str, int]:
    """{schema.table: row count} of the incremental models."""
    manifest = json.loads((work_dir / "target" / "manifest.json").read_text())
    tables = sorted(
        f"{node['schema']}.{node['alias']}"
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"]["materialized"] == "incremental"
    )
    assert len(tables) > 40
    return {table: run.scalar(f"select count(*) from {table}") for table in tables}


def stamped_models(work_dir: Path) -> dict[str, tuple[str, set[str]]]:
    """{schema.table: (stamp column, ids of its tests)} of the models that declare the stamp
    of written rows."""
    manifest = json.loads((work_dir / "target" / "manifest.json").read_text())
    return {
        f"{node['schema']}.{node['alias']}": (
            node["config"]["meta"]["bitrix_omni_written_at"],
            set(manifest["child_map"][unique_id]),
        )
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node["config"]["meta"].get("bitrix_omni_written_at")
    }


def rows_by_content(run: DbtRun, table: str, stamp: str) -> dict[tuple, object]:
    """Each row's content (without the run stamps) with its stamp of written rows."""
    stamps = [*RUN_STAMPS, stamp]
    columns = [name for name in run.columns(table) if name not in stamps]
    return {
        tuple(row[:-1]): row[-1]
        for row in run.query(f"select {', '.join(columns)}, {stamp} from {table}")
    }


def test_every_row_a_run_changes_is_stamped_after_the_marks(tmp_path: Path) -> None:
    """A run that changes only CRM e-mails and phones (records without new links): every
    row any stamped model writes with new content carries a stamp after its tests' marks,
    so the scoped tests read it."""
    export = tmp_path / "export"
    shutil.copytree(DEMO, export)
    work = tmp_path / "warehouse"
    first = run_dbt(["build"], export, work)
    assert first.returncode == 0, first.output[-6000:]
    models = stamped_models(work)
    before = {table: rows_by_content(first, table, stamp) for table, (stamp, _) in models.items()}
    marks = dict(first.query("select test_id, tested_through from main.bitrix_omni_test_marks"))

    # CRM records without links: the run writes no link, so models whose `_changed_at`
    # follows their inputs' newest stamp would stamp these rows before the marks
    unlinked = {
        key
        for (key,) in first.query(
            "select record_key from main_intermediate.int_identity__records as records"
            " where record_key like 'b_crm_%' and not exists (select 1"
            " from main_intermediate.int_identity__links as links"
            " where records.record_key in (links.record_key, links.other_record_key))"
        )
    }

    def crm_values(header: list[str], body: list[list[str]]) -> None:
        entity, element = header.index("ENTITY_ID"), header.index("ELEMENT_ID")
        rows = [row for row in body if f"b_crm_{row[entity].lower()}:{row[element]}" in unlinked]
        assert len(rows) >= 4
        for row in rows[:3]:
            row[header.index("VALUE")] = "changed." + row[header.index("VALUE")]
        body.remove(rows[3])

    mutate(export, "b_crm_field_multi", crm_values)
    second = run_dbt(["build"], export, work)
    assert second.returncode == 0, second.output[-6000:]
    changed = {}
    for table, (stamp, tests) in models.items():
        tested_through = max(
            (mark for test_id, mark in marks.items() if test_id in tests), default=None
        )
        after = rows_by_content(second, table, stamp)
        new_rows = [content for content in after if content not in before[table]]
        changed[table] = len(new_rows)
        late = [c for c in new_rows if tested_through is not None and not after[c] > tested_through]
        assert late == [], (table, stamp, tested_through, late[:3])
    assert changed["main.bl_customer_identity_evidence"] > 0
    assert changed["main_intermediate.int_identity__record_fingerprints"] > 0


CREDIT_TEST = "assert_attribution_credit_sums_to_one"


def test_a_singular_test_reads_the_customers_written_since_it_passed(tmp_path: Path) -> None:
    """The credit test (meta bitrix_omni_scoped_test) checks the orders of the customers
    whose timeline or attribution rows were written since it passed; `all` checks every
    order."""
    build = run_dbt(["build"], DEMO, tmp_path)
    assert build.returncode == 0, build.output[-6000:]
    run_start = build.query(f"select max(_built_at) from {ATTRIBUTION}")[0][0]
    (mark,) = build.query(
        "select tested_through from main.bitrix_omni_test_marks where test_id like ?",
        [f"%.{CREDIT_TEST}%"],
    )[0]
    assert mark == run_start

    # one order's credit halved, as a run would have written it: the scoped test sees it
    (order_id, customer_uuid) = build.query(
        f"select order_id, customer_uuid from {ATTRIBUTION} "
        "where attribution_model = 'linear' order by order_id limit 1"
    )[0]
    halve = (
        f"update {ATTRIBUTION} set credit = credit / 2, _built_at = cast('{{}}' as timestamp) "
        f"where order_id = {order_id} and attribution_model = 'linear'"
    )
    execute(build, halve.format("2999-01-01"))
    selected = ["--select", CREDIT_TEST]
    scoped = run_dbt(["test", *selected], DEMO, tmp_path)
    assert CREDIT_TEST in failed(scoped)
    compiled = compiled_test(tmp_path, CREDIT_TEST)
    assert f"_built_at > cast('{run_start}" in compiled
    assert "written_customers" in compiled

    # a customer whose rows are all older than the mark is not read by the hourly scope
    execute(
        build,
        f"update {ATTRIBUTION} set _built_at = cast('2000-01-01' as timestamp) "
        f"where customer_uuid = '{customer_uuid}'",
        "update main_intermediate.int_journeys__touchpoints "
        f"set _built_at = cast('2000-01-01' as timestamp) where customer_uuid = '{customer_uuid}'",
    )
    hourly = run_dbt(["test", *selected], DEMO, tmp_path)
    assert hourly.returncode == 0, hourly.output[-4000:]
    nightly = run_dbt(["test", *selected, *ALL_ROWS], DEMO, tmp_path)
    assert CREDIT_TEST in failed(nightly)
    assert "written_customers" not in compiled_test(tmp_path, CREDIT_TEST)
