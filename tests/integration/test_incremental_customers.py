"""Customer-scoped incremental models (macros/incremental_scope.sql): after new data and
replica edits that merge customers, cancel and delete orders and change channels, an
incremental run gives exactly the tables of a `--full-refresh` of the same warehouse, and
it rewrites only the customers whose inputs changed."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from dbt_runner import DbtRun, run_dbt
from export_edits import delete_first, edit_first, is_before, mutate

from bitrix_omni.exports import export_until
from bitrix_omni.generate import generate

pytestmark = pytest.mark.integration

CUTOFF = "2024-10-01 00:00:00"
#: dbt build without the data tests: the edits below are not what the tests are about.
BUILD = ["build", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]
#: Identity resolution scoped to the customers around changed records however many
#: changed (the demo's second export changes more than the default share).
SCOPED_RESOLUTION = ["--vars", "{bitrix_omni_identity_scoped_resolution_max_share: 1}"]

#: The incremental models that rebuild only some keys, by schema: their key and a text
#: column to mark with (one their change detection does not read).
SCOPED = {
    "main_intermediate.int_identity__customers": ("customer_uuid", "email"),
    "main_intermediate.int_journeys__customer_channels": ("customer_uuid", "first_source"),
    # the last customer: the first one's touchpoints feed the journeys marked below
    "main_intermediate.int_journeys__touchpoints": ("customer_uuid", "touchpoint_detail", "max"),
    "main.bl_customer_profile": ("customer_uuid", "email"),
    "main.bl_customer_journeys": ("customer_uuid", "touchpoint_detail"),
    "main.bl_order_attribution": ("customer_uuid", "channel"),
    "main_intermediate.int_identity__usable_identifiers": ("record_key", "customer_uuid"),
    "main.bl_customer_identity_evidence": ("record_key", "customer_uuid"),
    # the last record: its first record's masks feed the evidence marked above
    "main_intermediate.int_identity__normalized_identifiers": (
        "record_key",
        "identifier_masked",
        "max",
    ),
}
#: Other incremental tables and tables built from the scoped ones, compared as well.
DOWNSTREAM = (
    "main_intermediate.int_journeys__crm_utm",
    "main_intermediate.int_journeys__record_touchpoints",
    "main.bl_customer_identity_map",
    "main.bl_channel_attribution",
    "main.bl_omni_stats",
    "main.bl_orders_by_first_channel",
    "main.bl_channel_report",
    "main.bl_conversion_by_source",
)


def rows(run: DbtRun, table: str) -> list[tuple]:
    """The table's rows without run-time stamps (a --full-refresh normalizes values again
    and rewrites every record), floats rounded: sums of doubles depend on the order of
    addition."""
    return [
        tuple(round(value, 9) if isinstance(value, float) else value for value in row)
        for row in run.rows_without(table)
    ]


def share_email(header: list[str], body: list[list[str]]) -> tuple[str, str]:
    """The second of two early site users takes the first one's e-mail: they merge."""
    people = [row for row in early_people(header, body) if row[header.index("EMAIL")]]
    first, second = people[10], people[11]
    second[header.index("EMAIL")] = first[header.index("EMAIL")]
    return first[0], second[0]


def early_people(header: list[str], body: list[list[str]]) -> list[list[str]]:
    return [
        row
        for row in body
        if is_before(header, row, "DATE_REGISTER", CUTOFF)
        and not row[header.index("EXTERNAL_AUTH_ID")]
    ]


def share_value(people: slice, column: str, value: str):
    """Early site users (a slice of them) take one value (more than five users: more than
    the guard's limit of customers per identifier); returns their ids."""

    def change(header: list[str], body: list[list[str]]) -> list[str]:
        chosen = early_people(header, body)[people]
        for row in chosen:
            row[header.index(column)] = value
        return [row[0] for row in chosen]

    return change


def cancel_early_order(header: list[str], body: list[list[str]]) -> str:
    row = next(r for r in body[5:] if is_before(header, r, "DATE_INSERT", CUTOFF))
    row[header.index("CANCELED")] = "Y"
    return row[0]


def edit_crm_utm_mark(header: list[str], body: list[list[str]]) -> tuple[str, str]:
    """The first CRM UTM mark gets another value; returns its entity."""
    body[0][header.index("VALUE")] = "edited_crm_source"
    return body[0][0], body[0][1]


def delete_crm_utm_entity(header: list[str], body: list[list[str]]) -> tuple[str, str]:
    """Every UTM mark of the second entity in the export goes; returns the entity."""
    first = tuple(body[0][:2])
    entity = next(tuple(row[:2]) for row in body if tuple(row[:2]) != first)
    body[:] = [row for row in body if tuple(row[:2]) != entity]
    return entity


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("exports")
    full = base / "full"
    generate(full, 500, seed=17)
    # over-shared from the start; two of the six drop it in the final export (released)
    shared = mutate(full, "b_user", share_value(slice(20, 26), "PERSONAL_MOBILE", "+79150001122"))
    # five users one customer through two shared phones; a sixth user takes one of them
    # in the final export: it is over-shared, and nothing else about the five changes
    family = mutate(full, "b_user", share_value(slice(40, 45), "PERSONAL_PHONE", "+79150005500"))
    mutate(full, "b_user", share_value(slice(40, 45), "WORK_PHONE", "+79150005566"))
    early = base / "early"
    export_until(full, early, CUTOFF)
    final = base / "final"
    shutil.copytree(full, final)
    changes = {
        "merged_users": mutate(final, "b_user", share_email),
        "canceled_order": mutate(final, "b_sale_order", cancel_early_order),
        "deleted_order": mutate(final, "b_sale_order", delete_first),
        "edited_utm": mutate(final, "b_uts_user", edit_first("UF_UTM_SOURCE", "edited_source")),
        "deleted_contact_field": mutate(final, "b_crm_field_multi", delete_first),
        "edited_crm_utm": mutate(final, "b_crm_utm", edit_crm_utm_mark),
        "deleted_crm_utm": mutate(final, "b_crm_utm", delete_crm_utm_entity),
        "shared_phone": shared,
        "released_phone": mutate(
            final, "b_user", share_value(slice(20, 22), "PERSONAL_MOBILE", "")
        ),
        "family": family,
        "over_shared_phone": mutate(
            final, "b_user", share_value(slice(30, 36), "WORK_PHONE", "+7 915 000-33-44")
        ),
    }
    return {"early": early, "final": final, "changes": changes}


@pytest.fixture(scope="module")
def runs(exports, tmp_path_factory) -> dict:
    incremental_dir = tmp_path_factory.mktemp("incremental")
    first = run_dbt(BUILD, exports["early"], incremental_dir)
    assert first.returncode == 0, first.output[-4000:]
    before = {table: rows(first, table) for table in SCOPED}
    record_touchpoints_before = row_hashes(first)
    shared_before = edge_statuses(
        first, exports["changes"]["shared_phone"], "b_user.PERSONAL_MOBILE"
    )
    second = run_dbt([*BUILD, *SCOPED_RESOLUTION], exports["final"], incremental_dir)
    assert second.returncode == 0, second.output[-4000:]
    compiled = (
        incremental_dir
        / "target/compiled/bitrix_omni/models/marts/customers/bl_customer_profile.sql"
    ).read_text()

    # the reference: the same warehouse (same registry, hence same customer_uuids)
    # rebuilt with --full-refresh
    reference_dir = tmp_path_factory.mktemp("reference")
    shutil.copy(second.database, reference_dir / "warehouse.duckdb")
    reference = run_dbt([*BUILD, "--full-refresh"], exports["final"], reference_dir)
    assert reference.returncode == 0, reference.output[-4000:]
    return {
        "incremental_dir": incremental_dir,
        "before": before,
        "record_touchpoints_before": record_touchpoints_before,
        "shared_phone_before": shared_before,
        "second": second,
        "second_compiled": compiled,
        "reference": reference,
    }


def test_incremental_run_equals_a_full_refresh(runs):
    second, reference = runs["second"], runs["reference"]
    for table in (*SCOPED, *DOWNSTREAM):
        assert rows(second, table) == rows(reference, table), table


RECORD_TOUCHPOINTS = "main_intermediate.int_journeys__record_touchpoints"


def row_hashes(run: DbtRun) -> set:
    return {row_hash for (row_hash,) in run.query(f"select _row_hash from {RECORD_TOUCHPOINTS}")}


def test_record_touchpoints_wrote_only_the_changed_rows(runs):
    """The record touchpoints are incremental by row hash: the second run wrote the rows
    whose hash the first run had not stored (the new months' and the edited ones) and
    deleted those no current row has (the deleted and the edited ones), and left the
    rest as they were."""
    before, after = runs["record_touchpoints_before"], row_hashes(runs["second"])
    written = {
        row_hash
        for (row_hash,) in runs["second"].query(
            f"select _row_hash from {RECORD_TOUCHPOINTS}"
            f" where _built_at = (select max(_built_at) from {RECORD_TOUCHPOINTS})"
        )
    }
    assert written == after - before
    assert before - after, "no touchpoint was deleted or changed"
    assert 0 < len(written) < len(after) and before & after


def tables(run: DbtRun) -> set[tuple[str, str]]:
    return set(run.query("select schema_name, table_name from duckdb_tables()"))


def test_an_incremental_run_leaves_no_temporary_tables(runs):
    """The incremental Python models' DataFrames (written as `<model>__dbt_tmp<time>`)
    are dropped: the incremental warehouse holds the same tables as the full refresh."""
    second, reference = runs["second"], runs["reference"]
    assert not [name for _, name in tables(second) if "__dbt_tmp" in name]
    assert tables(second) == tables(reference)


def test_a_left_over_temporary_table_is_dropped_by_the_next_run(exports, runs, tmp_path):
    """A DataFrame table left by an earlier run that failed is dropped by the next run of
    its model; a table that only starts with the model's name is not touched."""
    shutil.copy(runs["reference"].database, tmp_path / "warehouse.duckdb")
    registry = "int_identity__customer_registry"
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as connection:
        connection.execute(f"create table main.{registry}__dbt_tmp20240101000000 as select 1 as x")
        connection.execute(f"create table main.{registry}__dbt_tmp_keep as select 1 as x")
    again = run_dbt(["run", "--select", registry], exports["final"], tmp_path)
    assert again.returncode == 0, again.output[-4000:]
    left = {name for _, name in tables(again) if "__dbt_tmp" in name}
    assert left == {f"{registry}__dbt_tmp_keep"}


def test_crm_utm_rebuilt_only_the_changed_entities(exports, runs):
    """The CRM UTM pivot rewrote the entity whose mark was edited and deleted the one
    whose marks are gone (the export's marks are the same in both runs otherwise)."""
    crm_utm = "main_intermediate.int_journeys__crm_utm"
    second = runs["second"]
    written = second.query(
        f"select entity_type_id, entity_id from {crm_utm}"
        f" where _built_at = (select max(_built_at) from {crm_utm})"
    )
    edited = tuple(int(part) for part in exports["changes"]["edited_crm_utm"])
    assert written == [edited]
    deleted = tuple(int(part) for part in exports["changes"]["deleted_crm_utm"])
    assert (
        second.query(
            f"select * from {crm_utm} where (entity_type_id, entity_id) = (?, ?)", list(deleted)
        )
        == []
    )
    assert second.scalar(f"select count(*) from {crm_utm}") > 100


def test_the_edits_changed_customers(exports, runs):
    second = runs["second"]
    first_user, second_user = exports["changes"]["merged_users"]
    owners = second.query(
        "select distinct customer_uuid from main.bl_customer_identity_map"
        f" where source_table = 'b_user' and source_id in ({first_user}, {second_user})"
    )
    assert len(owners) == 1
    for table in SCOPED:
        before, after = set(runs["before"][table]), set(rows(second, table))
        assert before - after and after - before, table
    canceled = exports["changes"]["canceled_order"]
    assert not second.query(
        f"select 1 from main.bl_order_attribution where order_id = {int(canceled)}"
    )


def edge_statuses(run: DbtRun, users: list[str], evidence: str) -> list[tuple]:
    keys = ", ".join(f"'b_user:{user}'" for user in users)
    return run.query(
        "select distinct edge_status from main.bl_customer_identity_evidence"
        f" where record_key in ({keys}) and evidence = '{evidence}'"
    )


def family_registry(run: DbtRun, users: list[str]) -> list[tuple]:
    keys = ", ".join(f"'b_user:{user}'" for user in users)
    return run.query(
        "select record_key, customer_uuid, match_method, customer_records"
        f" from main.bl_customer_identity_map where record_key in ({keys}) order by 1"
    )


def test_the_registry_was_resolved_as_the_whole_graph_would(exports, runs, tmp_path):
    """The second run resolved only the customers around changed records (merges, splits,
    new and released guard verdicts, deleted records among the changes); resolving the
    whole graph on top of it finds nothing to change."""
    second = runs["second"]
    assert "the customers around" in second.output, second.output[-4000:]
    assert "the whole graph" not in second.output
    whole_dir = tmp_path / "whole"
    whole_dir.mkdir()
    shutil.copy(second.database, whole_dir / "warehouse.duckdb")
    whole = run_dbt(
        [
            "run",
            "--select",
            "int_identity__customer_registry",
            "--vars",
            "{bitrix_omni_identity_scoped_resolution_max_share: 0}",
        ],
        exports["final"],
        whole_dir,
    )
    assert whole.returncode == 0, whole.output[-4000:]
    assert "identity resolution: the whole graph" in whole.output
    assert "; 0 registry rows written" in whole.output, whole.output[-4000:]


def test_guard_verdicts_changed_both_ways(exports, runs):
    """A phone over-shared before and shared by four users after is used now; a phone
    newly shared by six users is over-shared now: stored edges and usable values follow."""
    second = runs["second"]

    def usable(users: list[str], evidence: str) -> int:
        keys = ", ".join(f"'b_user:{user}'" for user in users)
        return second.query(
            "select count(*) from main_intermediate.int_identity__usable_identifiers"
            f" where record_key in ({keys}) and evidence = '{evidence}'"
        )[0][0]

    assert runs["shared_phone_before"] == [("over_shared",)]
    still_sharing = exports["changes"]["shared_phone"][2:]
    assert edge_statuses(second, still_sharing, "b_user.PERSONAL_MOBILE") == [("used",)]
    assert usable(still_sharing, "b_user.PERSONAL_MOBILE") == len(still_sharing)
    over_shared = exports["changes"]["over_shared_phone"]
    assert edge_statuses(second, over_shared, "b_user.WORK_PHONE") == [("over_shared",)]
    assert usable(over_shared, "b_user.WORK_PHONE") == 0


def test_a_guard_verdict_alone_rebuilds_its_records(exports, runs, tmp_path):
    """Only the guard's verdict on the family's work phone changes (a sixth user takes
    it): not their identifier rows, not their customer (their registry rows are rewritten
    with new fingerprints). Their edges and usable values follow, as a --full-refresh
    has them."""
    family = exports["changes"]["family"]
    data = tmp_path / "data"
    shutil.copytree(exports["final"], data)
    mutate(data, "b_user", share_value(slice(45, 46), "WORK_PHONE", "+79150005566"))
    incremental_dir = tmp_path / "incremental"
    incremental_dir.mkdir()
    shutil.copy(runs["reference"].database, incremental_dir / "warehouse.duckdb")
    before = DbtRun(incremental_dir / "warehouse.duckdb", 0, "")
    assert edge_statuses(before, family, "b_user.WORK_PHONE") == [("used",)]
    registry_before = family_registry(before, family)

    incremental = run_dbt(BUILD, data, incremental_dir)
    assert incremental.returncode == 0, incremental.output[-4000:]
    assert family_registry(incremental, family) == registry_before
    assert edge_statuses(incremental, family, "b_user.WORK_PHONE") == [("over_shared",)]
    keys = ", ".join(f"'b_user:{user}'" for user in family)
    assert incremental.query(
        "select evidence, count(*) from main_intermediate.int_identity__usable_identifiers"
        f" where record_key in ({keys})"
        " and evidence in ('b_user.PERSONAL_PHONE', 'b_user.WORK_PHONE') group by 1"
    ) == [("b_user.PERSONAL_PHONE", len(family))]

    reference_dir = tmp_path / "reference"
    reference_dir.mkdir()
    shutil.copy(incremental.database, reference_dir / "warehouse.duckdb")
    reference = run_dbt([*BUILD, "--full-refresh"], data, reference_dir)
    assert reference.returncode == 0, reference.output[-4000:]
    for table in (*SCOPED, *DOWNSTREAM):
        assert rows(incremental, table) == rows(reference, table), table


def test_the_second_run_was_scoped(exports, runs):
    """The model rebuilt only keys whose fingerprint changed: a stored row of an unchanged
    customer, altered behind dbt's back, survives another incremental run."""
    assert "not exists" in runs["second_compiled"]
    assert "scope.scope_key" in runs["second_compiled"]

    incremental_dir = runs["incremental_dir"]
    marked = _set_markers(incremental_dir / "warehouse.duckdb")
    again = run_dbt(BUILD, exports["final"], incremental_dir)
    assert again.returncode == 0, again.output[-4000:]
    for table, (key, column, *_) in SCOPED.items():
        values = again.query(
            f"select distinct {column} from {table} where {key} = ?", [marked[table]]
        )
        assert values == [("marker",)], table


def _set_markers(database: Path) -> dict[str, str]:
    """Set the marker column of one key's rows in every scoped table."""
    marked = {}
    with duckdb.connect(str(database)) as connection:
        for table, (key, column, *pick) in SCOPED.items():
            value = connection.execute(
                f"select {pick[0] if pick else 'min'}({key}) from {table}"
            ).fetchone()[0]
            connection.execute(f"update {table} set {column} = 'marker' where {key} = ?", [value])
            marked[table] = value
    return marked


def test_a_changed_var_rebuilds_what_it_affects(exports, runs, tmp_path):
    """Vars a scoped model hashes with its inputs (acquisition window, attribution
    windows) change every fingerprint, and a new default phone region re-normalizes every
    cached value: an incremental run with new values equals a --full-refresh with them."""
    changed = [
        "--vars",
        "{bitrix_omni_acquisition_window_days: 1, bitrix_omni_attribution_lookback_days: 3,"
        " bitrix_omni_attribution_half_life_days: 2, bitrix_omni_phone_default_region: BY}",
    ]
    incremental_dir = tmp_path / "incremental"
    incremental_dir.mkdir()
    shutil.copy(runs["reference"].database, incremental_dir / "warehouse.duckdb")
    incremental = run_dbt([*BUILD, *changed], exports["final"], incremental_dir)
    assert incremental.returncode == 0, incremental.output[-4000:]
    reference_dir = tmp_path / "reference"
    reference_dir.mkdir()
    shutil.copy(incremental.database, reference_dir / "warehouse.duckdb")
    reference = run_dbt([*BUILD, *changed, "--full-refresh"], exports["final"], reference_dir)
    assert reference.returncode == 0, reference.output[-4000:]
    for table in (*SCOPED, *DOWNSTREAM):
        assert rows(incremental, table) == rows(reference, table), table
    channels = "main_intermediate.int_journeys__customer_channels"
    assert rows(incremental, channels) != rows(runs["reference"], channels)
