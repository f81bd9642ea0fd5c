"""Incremental staging with a load-time column (var `bitrix_omni_loaded_at_column`): a run
compares only the raw rows loaded since the model's mark (less the lookback), still finds
deleted keys and reads every raw row of a changed key; a table without the column, or a CSV
file (parsed whole by any read), is compared whole; a run with the var empty compares
everything again (the nightly run). The orders are a Parquet file here, the path DuckDB
takes; a replica of a whole generated export (`as_replicated_parquet`) staged run after run
equals a full build of the CSV export."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from dbt_runner import DbtRun, assert_staging_equal, run_dbt
from export_edits import mutate, read_table, write_table

from bitrix_omni.exports import LOADED_AT, as_replicated_parquet, export_until
from bitrix_omni.generate import generate

pytestmark = pytest.mark.integration

FIRST_LOAD = "2023-01-01 00:00:00"
OLD_LOAD = "2024-01-01 00:00:00"
NEW_LOAD = "2024-06-01 00:00:00"
VARS = "{bitrix_omni_loaded_at_column: _loaded_at}"
STAGING = ["run", "--select", "path:models/staging"]


def with_load_time(data_dir: Path, table: str) -> None:
    """The replica's load-time column: every row loaded long ago, the last one at OLD_LOAD
    (the newest load time: the first run's mark)."""
    header, body = read_table(data_dir, table)
    loads = [FIRST_LOAD] * (len(body) - 1) + [OLD_LOAD]
    write_table(
        data_dir,
        table,
        [*header, LOADED_AT],
        [[*row, load] for row, load in zip(body, loads, strict=True)],
    )


def as_parquet(data_dir: Path, table: str) -> None:
    """The table's CSV file as a Parquet file (text columns), as a replica in files."""
    csv_file = data_dir / f"{table}.csv"
    with duckdb.connect() as connection:
        connection.execute(
            f"copy (select * from read_csv('{csv_file}', all_varchar = true, header = true))"
            f" to '{data_dir / (table + '.parquet')}' (format parquet)"
        )
    csv_file.unlink()


def edit_order(row_number: int, status: str, reload: bool):
    """Another status for one order; `reload`: the replication stamps the row anew."""

    def change(header: list[str], body: list[list[str]]) -> str:
        row = body[row_number]
        row[header.index("STATUS_ID")] = status
        if reload:
            row[header.index(LOADED_AT)] = NEW_LOAD
        return row[0]

    return change


def newer_duplicate(header: list[str], body: list[list[str]]) -> str:
    """A newly loaded replica duplicate of an order (newer DATE_UPDATE): it must win, and
    the key's old row (old load time) must be read with it."""
    duplicate = list(body[5])
    duplicate[header.index("DATE_UPDATE")] = "2099-01-01 00:00:00"
    duplicate[header.index("STATUS_ID")] = "D"
    duplicate[header.index(LOADED_AT)] = NEW_LOAD
    body.append(duplicate)
    return duplicate[0]


def new_order(header: list[str], body: list[list[str]]) -> str:
    row = list(body[6])
    row[0] = str(max(int(r[0]) for r in body) + 1)
    row[header.index(LOADED_AT)] = NEW_LOAD
    body.append(row)
    return row[0]


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("loaded_at_exports")
    early = base / "early"
    generate(early, 300, seed=12)
    with_load_time(early, "b_sale_order")
    with_load_time(early, "b_sale_fuser")  # stays CSV: compared whole
    final = base / "final"
    shutil.copytree(early, final)
    changes = {
        "reloaded": mutate(final, "b_sale_order", edit_order(0, "R", reload=True)),
        "silent": mutate(final, "b_sale_order", edit_order(1, "S", reload=False)),
        "duplicated": mutate(final, "b_sale_order", newer_duplicate),
        "new": mutate(final, "b_sale_order", new_order),
        # b_user has no load-time column: compared whole, so a silent edit is staged
        "user": mutate(final, "b_user", edit_first_user_name),
    }
    # deleted last: the rows above are addressed by position
    changes["deleted"] = mutate(final, "b_sale_order", delete_third)
    for data_dir in (early, final):
        as_parquet(data_dir, "b_sale_order")
    return {"early": early, "final": final, "changes": changes}


def edit_first_user_name(header: list[str], body: list[list[str]]) -> str:
    body[0][header.index("NAME")] = "Edited"
    return body[0][0]


def delete_third(header: list[str], body: list[list[str]]) -> str:
    """Deletes the third order (untouched above)."""
    return body.pop(2)[0]


def order_status(run: DbtRun, order_id: str) -> list[tuple]:
    return run.query(
        f"select status_id from main_staging.stg_bitrix__orders where order_id = {int(order_id)}"
    )


def snapshot(run: DbtRun, work_dir: Path, name: str) -> DbtRun:
    """A copy of the warehouse as this run left it (the file is built on again)."""
    copy = work_dir / f"{name}.duckdb"
    shutil.copy(run.database, copy)
    return DbtRun(copy, run.returncode, run.output)


@pytest.fixture(scope="module")
def runs(exports, tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("loaded_at_runs")
    args = [*STAGING, "--vars", VARS]
    first = run_dbt(args, exports["early"], work)
    assert first.returncode == 0, first.output[-4000:]
    first = snapshot(first, work, "first")
    second = run_dbt(args, exports["final"], work)
    assert second.returncode == 0, second.output[-4000:]
    compiled_dir = work / "target/compiled/bitrix_omni/models/staging/bitrix"
    compiled = {
        model: (compiled_dir / f"{model}.sql").read_text()
        for model in ("stg_bitrix__orders", "stg_bitrix__sale_fusers")
    }
    second = snapshot(second, work, "second")
    nightly = run_dbt(STAGING, exports["final"], work)
    assert nightly.returncode == 0, nightly.output[-4000:]
    nightly = snapshot(nightly, work, "nightly")
    reference = run_dbt(STAGING, exports["final"], tmp_path_factory.mktemp("loaded_at_ref"))
    assert reference.returncode == 0, reference.output[-4000:]
    return {
        "first": first,
        "second": second,
        "compiled": compiled,
        "nightly": nightly,
        "reference": reference,
    }


def marks(run: DbtRun) -> dict[str, str]:
    return {
        model: str(loaded)
        for model, loaded in run.query(
            "select model_name, loaded_through from main.bitrix_omni_source_marks"
        )
    }


def test_marks_hold_the_newest_load_time_of_tables_with_the_column(runs):
    assert marks(runs["first"]) == {
        "stg_bitrix__orders": OLD_LOAD,
        "stg_bitrix__sale_fusers": OLD_LOAD,
    }
    assert marks(runs["second"]) == {
        "stg_bitrix__orders": NEW_LOAD,
        "stg_bitrix__sale_fusers": OLD_LOAD,
    }
    # a run without the var drops the mark: the next run with it compares every row
    assert marks(runs["nightly"]) == {}


def test_only_rows_loaded_since_the_mark_less_the_lookback_are_compared(runs):
    compiled = runs["compiled"]["stg_bitrix__orders"]
    assert "\"_LOADED_AT\" >= '2023-12-31 00:00:00'" in compiled  # the default 1440 minutes
    assert "recent as (" in compiled
    assert "raw_keys as (" in compiled  # DuckDB: deleted keys from the key column alone


def test_a_csv_file_with_the_column_is_compared_whole(runs):
    compiled = runs["compiled"]["stg_bitrix__sale_fusers"]
    assert "recent as (" not in compiled
    assert "hashed as (" in compiled


def test_loaded_rows_deleted_and_new_keys_are_staged(exports, runs):
    second, changes = runs["second"], exports["changes"]
    assert order_status(second, changes["reloaded"]) == [("R",)]
    assert order_status(second, changes["duplicated"]) == [("D",)]
    assert order_status(second, changes["new"]) != []
    assert order_status(second, changes["deleted"]) == []
    logged = second.query(
        "select raw_table, deleted_key from main_staging.stg_bitrix__deleted_keys"
    )
    assert ("b_sale_order", changes["deleted"]) in logged
    name = second.query(
        f"select first_name from main_staging.stg_bitrix__users where user_id = {changes['user']}"
    )
    assert name == [("Edited",)]


def test_a_row_changed_without_a_new_load_time_waits_for_the_nightly_run(exports, runs):
    silent = exports["changes"]["silent"]
    assert order_status(runs["first"], silent) not in ([("S",)], [])
    assert order_status(runs["second"], silent) == order_status(runs["first"], silent)
    assert order_status(runs["nightly"], silent) == [("S",)]


def test_after_the_nightly_run_staging_equals_a_full_build(runs):
    assert_staging_equal(runs["nightly"], runs["reference"])


def test_a_bad_lookback_fails_clearly(exports, tmp_path):
    failed = run_dbt(
        [
            *STAGING,
            "--vars",
            "{bitrix_omni_loaded_at_column: _loaded_at, bitrix_omni_loaded_at_lookback_minutes: x}",
        ],
        exports["early"],
        tmp_path,
    )
    assert failed.returncode != 0
    assert "bitrix_omni_loaded_at_lookback_minutes must be a number of minutes" in failed.output


REPLICA_CUTOFF = "2024-10-01 00:00:00"


@pytest.fixture(scope="module")
def replicas(tmp_path_factory) -> dict:
    """A CSV export, the same cut at REPLICA_CUTOFF, and both as replicated Parquet files."""
    base = tmp_path_factory.mktemp("replicas")
    csv = base / "csv"
    generate(csv, 300, seed=5)
    early_csv = export_until(csv, base / "early_csv", REPLICA_CUTOFF)
    bounds = ("2024-01-01 00:00:00", REPLICA_CUTOFF)
    return {
        "csv": csv,
        "early": as_replicated_parquet(early_csv, base / "early", *bounds),
        "final": as_replicated_parquet(csv, base / "final", *bounds),
    }


def test_a_replica_stamps_each_row_alike_in_both_exports_and_in_load_order(replicas):
    early = replicas["early"] / "b_crm_field_multi.parquet"
    final = replicas["final"] / "b_sale_order.parquet"
    with duckdb.connect() as connection:
        loads = connection.execute(f"select {LOADED_AT} from '{final}'").fetchall()
        assert loads == sorted(loads)
        # a table without a creation time: spread before the cutoff, the same in both
        assert connection.execute(
            f"select count(*), max({LOADED_AT}) < '{REPLICA_CUTOFF}' from '{early}'"
        ).fetchone() == (
            connection.execute(
                f"select count(*) from '{early}' e"
                f" join '{replicas['final'] / 'b_crm_field_multi.parquet'}' f"
                f" using (ID, {LOADED_AT})"
            ).fetchone()[0],
            True,
        )
        # a table with one: the creation time, so the rows new since the cutoff are newer
        new = connection.execute(
            f"select count(*), min({LOADED_AT}) >= '{REPLICA_CUTOFF}' from '{final}'"
            f" where DATE_INSERT >= '{REPLICA_CUTOFF}'"
        ).fetchone()
        assert new[0] > 0 and new[1]


def in_batch_files(replica: Path, earlier: Path | None, target: Path) -> Path:
    """The replica as a replication that writes one file per batch leaves it: a folder per
    table, with the rows of `earlier` (a replica of an earlier moment) in one file and the
    rows added since in another."""
    target.mkdir()
    with duckdb.connect() as connection:
        for path in sorted(replica.glob("*.parquet")):
            folder = target / path.stem
            folder.mkdir()
            if earlier is None:
                shutil.copy(path, folder / "batch-1.parquet")
                continue
            shutil.copy(earlier / path.name, folder / "batch-1.parquet")
            connection.execute(
                f"copy (select * from '{path}' except all select * from '{earlier / path.name}')"
                f" to '{folder / 'batch-2.parquet'}' (format parquet)"
            )
    return target


@pytest.fixture(scope="module")
def csv_reference(replicas, tmp_path_factory) -> DbtRun:
    """Staging built whole from the CSV export."""
    reference = run_dbt(STAGING, replicas["csv"], tmp_path_factory.mktemp("csv_reference"))
    assert reference.returncode == 0, reference.output[-4000:]
    return reference


def test_staging_a_replica_run_after_run_equals_a_full_build_of_the_csv(
    replicas, csv_reference, tmp_path
):
    args = [*STAGING, "--vars", VARS]
    first = run_dbt(args, replicas["early"], tmp_path / "runs")
    assert first.returncode == 0, first.output[-4000:]
    second = run_dbt(args, replicas["final"], tmp_path / "runs")
    assert second.returncode == 0, second.output[-4000:]
    compiled = (
        tmp_path
        / "runs/target/compiled/bitrix_omni/models/staging/bitrix/stg_bitrix__basket_items.sql"
    ).read_text()
    assert "recent as (" in compiled  # the load-time path, not the full compare
    assert (
        second.scalar(
            "select count(*) from main.bitrix_omni_source_marks"
            f" where loaded_through >= '{REPLICA_CUTOFF}'"
        )
        > 0
    )
    assert_staging_equal(second, csv_reference)


def test_a_replica_in_batch_files_per_table_is_staged_like_the_csv(
    replicas, csv_reference, tmp_path
):
    early = in_batch_files(replicas["early"], None, tmp_path / "early")
    final = in_batch_files(replicas["final"], replicas["early"], tmp_path / "final")
    assert len(list((final / "b_sale_order").glob("*.parquet"))) == 2
    args = [*STAGING, "--vars", VARS]
    first = run_dbt(args, early, tmp_path / "runs")
    assert first.returncode == 0, first.output[-4000:]
    second = run_dbt(args, final, tmp_path / "runs")
    assert second.returncode == 0, second.output[-4000:]
    compiled = (
        tmp_path / "runs/target/compiled/bitrix_omni/models/staging/bitrix/stg_bitrix__orders.sql"
    ).read_text()
    assert "b_sale_order/**/*.parquet" in compiled
    assert "recent as (" in compiled
    assert_staging_equal(second, csv_reference)
