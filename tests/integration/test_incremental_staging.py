"""Incremental staging on full-dump exports: a run on a changed export re-stages only the
keys whose raw rows changed (by `_source_row_hash`) and deletes keys gone from the export,
and gives exactly the tables of a full build of that export."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from dbt_runner import PROJECT_DIR, DbtRun, assert_staging_equal, run_dbt
from export_edits import delete_first, edit_first, is_before, mutate

from bitrix_omni.exports import export_until
from bitrix_omni.generate import generate

pytestmark = pytest.mark.integration

CUTOFF = "2024-10-01 00:00:00"
STAGING = ["run", "--select", "path:models/staging"]


def newer_duplicate(header: list[str], body: list[list[str]]) -> str:
    """A second replica row of the first order: newer DATE_UPDATE, another status."""
    duplicate = list(body[0])
    duplicate[header.index("DATE_UPDATE")] = "2099-01-01 00:00:00"
    duplicate[header.index("STATUS_ID")] = "X"
    body.append(duplicate)
    return duplicate[0]


def older_duplicate(header: list[str], body: list[list[str]]) -> str:
    """A stale replica row of an old order: older DATE_UPDATE, it must not win. Its key
    changed (a new raw row), so the key's unchanged row is re-read with it and wins."""
    duplicate = list(next(row for row in body[1:] if is_before(header, row, "DATE_INSERT", CUTOFF)))
    duplicate[header.index("DATE_UPDATE")] = "2000-01-01 00:00:00"
    duplicate[header.index("STATUS_ID")] = "Y"
    body.append(duplicate)
    return duplicate[0]


def unparsable_key(header: list[str], body: list[list[str]]) -> str:
    key = body[0][0]
    body[0][0] = f"x{key}"
    return key


def whitespace_in_key(header: list[str], body: list[list[str]]) -> str:
    """Same key, different raw text: the row is re-staged, with the same values."""
    body[0][0] = f" {body[0][0]} "
    return body[0][0].strip()


def respace_first_code(header: list[str], body: list[list[str]]) -> None:
    """The first CRM UTM mark's code in lower case with spaces: staged upper-cased."""
    code = header.index("CODE")
    body[0][code] = f" {body[0][code].lower()} "


def delete_first_utm(header: list[str], body: list[list[str]]) -> tuple[int, int, str]:
    """Deletes the first CRM UTM mark; its staged key (entity type, entity, code)."""
    row = body.pop(0)
    return int(row[0]), int(row[1]), row[header.index("CODE")].strip().upper()


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("exports")
    full = base / "full"
    generate(full, 400, seed=11)
    mutate(full, "b_crm_utm", respace_first_code)
    early = base / "early"
    export_until(full, early, CUTOFF)
    final = base / "final"
    shutil.copytree(full, final)
    changes = {
        "deleted_order": mutate(final, "b_sale_order", delete_first),
        # the next order gets a newer replica duplicate
        "duplicated_order": mutate(final, "b_sale_order", newer_duplicate),
        "stale_duplicate_order": mutate(final, "b_sale_order", older_duplicate),
        "edited_prop_value": mutate(
            final, "b_sale_order_props_value", edit_first("VALUE", "edited in place")
        ),
        "edited_user_field": mutate(final, "b_uts_user", edit_first("UF_UTM_SOURCE", "edited")),
        "deleted_communication": mutate(final, "b_crm_field_multi", delete_first),
        "unparsable_user": mutate(final, "b_user", unparsable_key),
        "respaced_fuser": mutate(final, "b_sale_fuser", whitespace_in_key),
        # a composite key made by three cleaning macros (bx_int, bx_ref, bx_code)
        "deleted_utm": mutate(final, "b_crm_utm", delete_first_utm),
        "edited_utm": mutate(final, "b_crm_utm", edit_first("VALUE", "edited_utm")),
    }
    return {"early": early, "final": final, "changes": changes}


@pytest.fixture(scope="module")
def runs(exports, tmp_path_factory) -> dict[str, DbtRun]:
    incremental_dir = tmp_path_factory.mktemp("incremental")
    first = run_dbt(STAGING, exports["early"], incremental_dir)
    assert first.returncode == 0, first.output[-4000:]
    keys_before = {
        "order": set(first.query("select order_id from main_staging.stg_bitrix__orders")),
        "user": set(first.query("select user_id from main_staging.stg_bitrix__users")),
        "communication": set(
            first.query("select communication_id from main_staging.stg_bitrix__crm_communications")
        ),
        "utm": set(
            first.query(
                "select entity_type_id, entity_id, utm_code"
                " from main_staging.stg_bitrix__crm_utm_marks"
            )
        ),
    }
    second = run_dbt(STAGING, exports["final"], incremental_dir)
    assert second.returncode == 0, second.output[-4000:]
    # a copy to query: the incremental file is built on again below
    snapshot = incremental_dir / "after_second_run.duckdb"
    shutil.copy(second.database, snapshot)
    second = DbtRun(snapshot, second.returncode, second.output)
    compiled = (
        incremental_dir / "target/compiled/bitrix_omni/models/staging/bitrix/stg_bitrix__orders.sql"
    ).read_text()

    reference_dir = tmp_path_factory.mktemp("reference")
    reference = run_dbt(STAGING, exports["final"], reference_dir)
    assert reference.returncode == 0, reference.output[-4000:]
    return {
        "incremental_dir": incremental_dir,
        "keys_before": keys_before,
        "second": second,
        "second_compiled": compiled,
        "reference": reference,
    }


def test_the_changes_hit_rows_staged_by_the_first_run(exports, runs):
    changes, before = exports["changes"], runs["keys_before"]
    assert (int(changes["deleted_order"]),) in before["order"]
    assert (int(changes["duplicated_order"]),) in before["order"]
    assert (int(changes["unparsable_user"]),) in before["user"]
    assert (int(changes["stale_duplicate_order"]),) in before["order"]
    assert (int(changes["deleted_communication"]),) in before["communication"]
    assert changes["deleted_utm"] in before["utm"]


def test_incremental_run_equals_a_full_build(runs):
    second, reference = runs["second"], runs["reference"]
    assert_staging_equal(second, reference)


def test_deleted_keys_are_logged(exports, runs):
    """The tombstones of the incremental run are kept in stg_bitrix__deleted_keys (what the
    record log reads); a full build deletes nothing, so it logs nothing."""
    second, changes = runs["second"], exports["changes"]
    logged = second.query(
        "select raw_table, deleted_key from main_staging.stg_bitrix__deleted_keys order by all"
    )
    assert ("b_crm_field_multi", changes["deleted_communication"]) in logged
    assert ("b_user", changes["unparsable_user"]) in logged  # its key became unparsable
    assert (
        runs["reference"].scalar("select count(*) from main_staging.stg_bitrix__deleted_keys") == 0
    )


def test_changes_are_applied(exports, runs):
    second, changes = runs["second"], exports["changes"]
    status = second.query(
        "select status_id from main_staging.stg_bitrix__orders"
        f" where order_id = {int(changes['duplicated_order'])}"
    )
    assert status == [("X",)]
    stale = second.query(
        "select status_id from main_staging.stg_bitrix__orders"
        f" where order_id = {int(changes['stale_duplicate_order'])}"
    )
    assert stale != [("Y",)]
    for sql in (
        f"from main_staging.stg_bitrix__orders where order_id = {changes['deleted_order']}",
        f"from main_staging.stg_bitrix__users where user_id = {changes['unparsable_user']}",
        "from main_staging.stg_bitrix__crm_communications"
        f" where communication_id = {changes['deleted_communication']}",
        "from main_staging.stg_bitrix__crm_utm_marks"
        " where (entity_type_id, entity_id, utm_code) = ({}, {}, '{}')".format(
            *changes["deleted_utm"]
        ),
    ):
        assert second.scalar(f"select count(*) {sql}") == 0, sql
    assert second.scalar(
        "select count(*) from main_staging.stg_bitrix__order_prop_values"
        " where prop_value = 'edited in place'"
    )
    assert second.scalar(
        "select count(*) from main_staging.stg_bitrix__user_fields where utm_source = 'edited'"
    )


def test_the_second_run_was_incremental(exports, runs):
    """The model selected only changed keys, and rows of unchanged keys were not rewritten."""
    assert "changed_keys" in runs["second_compiled"]
    assert "not exists" in runs["second_compiled"]
    # deleted keys come from the same read (tombstones), not from a second one
    assert "gone_keys" in runs["second_compiled"]
    assert runs["second_compiled"].count("read_csv(") == 1

    incremental_dir, final = runs["incremental_dir"], exports["final"]
    # a stored row of an unchanged key, altered behind dbt's back, stays as it is: an
    # incremental run does not rebuild it (its raw row's hash still matches)
    with_marker = _set_marker(incremental_dir / "warehouse.duckdb")
    again = run_dbt(STAGING, final, incremental_dir)
    assert again.returncode == 0, again.output[-4000:]
    marked = again.query(
        f"select cancel_reason from main_staging.stg_bitrix__orders where order_id = {with_marker}"
    )
    assert marked == [("marker",)]

    # --full-refresh rebuilds everything: the marker is gone, every table equals a full build
    refreshed = run_dbt([*STAGING, "--full-refresh"], final, incremental_dir)
    assert refreshed.returncode == 0, refreshed.output[-4000:]
    reference = runs["reference"]
    assert_staging_equal(refreshed, reference)


def _set_marker(database: Path) -> int:
    with duckdb.connect(str(database)) as connection:
        order_id = connection.execute(
            "select max(order_id) from main_staging.stg_bitrix__orders"
        ).fetchone()[0]
        connection.execute(
            "update main_staging.stg_bitrix__orders set cancel_reason = 'marker'"
            " where order_id = ?",
            [order_id],
        )
    return order_id


@pytest.mark.parametrize(
    ("expression", "fails"),
    [("bx_int('id')", False), ("bx_code( 'code' )", False), ("lower(id)", True)],
)
def test_a_key_a_tombstone_cannot_carry_fails_compilation(tmp_path, expression, fails):
    """A staging key must be made from one raw column by a cleaning macro (a deleted key's
    tombstone carries only that column's text)."""
    args = (
        '{raw_table: {name: b_sale_order, key: {order_id: "'
        + expression.replace('"', '\\"')
        + '"}}}'
    )
    run = run_dbt(
        ["run-operation", "bitrix_raw_key_columns", "--args", args],
        PROJECT_DIR / "data" / "demo",
        tmp_path,
    )
    assert (run.returncode != 0) == fails, run.output[-3000:]
    assert ("must be made from one raw column" in run.output) == fails
