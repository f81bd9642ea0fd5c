"""Change propagation into the identity record layer (macros/record_changes.sql): after
rounds of random replica edits of every column that decides which records a staged row
shapes (links, owners, entity bindings, property flags, technical users) and random
deletions, an incremental run gives exactly the record-layer tables of a full build of the
same export, and it rebuilds only some records."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
from dbt_runner import DbtRun, run_dbt
from export_edits import read_table, write_table

from bitrix_omni.exports import export_until
from bitrix_omni.generate import generate

pytestmark = pytest.mark.integration

CUTOFF = "2024-10-01 00:00:00"
#: The record-keyed models (schema.table).
MODELS = (
    *(
        f"main_intermediate.int_identity__{model}"
        for model in (
            "records",
            "identifiers",
            "normalized_identifiers",
            "links",
            "record_fingerprints",
            "usable_identifiers",
        )
    ),
    "main.bl_customer_identity_evidence",
)
#: The guards' verdicts: re-checked around the changed records (bitrix_omni.guards).
GUARDS = "main_intermediate.int_identity__guarded_identifiers"
#: They and everything they need (staging, the log, the normalization cache, the registry,
#: seeds), without the data tests: the edits are not what the tests are about.
RUN = [
    "build",
    "--select",
    *(f"+{table.split('.')[1]}" for table in MODELS),
    "--exclude-resource-type",
    "test",
    "--exclude-resource-type",
    "unit_test",
    # 25 edits of a small export touch more than the default share of its records (the
    # log over-approximates): let the guards and the registry stay partial anyway
    "--vars",
    "{bitrix_omni_identity_scoped_resolution_max_share: 2}",
]

#: The raw columns each edit may change, per table: the ones that decide which records a
#: row touches or whether it is an identifier, plus a value column.
EDITABLE = {
    "b_user": ["EXTERNAL_AUTH_ID", "EMAIL", "PERSONAL_PHONE", "DATE_REGISTER"],
    "b_sale_fuser": ["USER_ID"],
    "b_sale_basket": ["FUSER_ID", "ORDER_ID"],
    "b_sale_order": ["USER_ID", "DATE_INSERT"],
    "b_sale_order_props_value": ["ORDER_ID", "ORDER_PROPS_ID", "CODE", "VALUE"],
    "b_sale_order_props": ["IS_EMAIL", "IS_PHONE", "CODE"],
    "b_crm_field_multi": ["ENTITY_ID", "ELEMENT_ID", "TYPE_ID", "VALUE"],
    "b_crm_contact": ["LEAD_ID"],
    "b_crm_lead": ["CONTACT_ID"],
    "b_uts_crm_contact": ["UF_SITE_MEMBER_ID"],
}
#: Values an edit may also set: empty, the technical auth id, the other flag value.
SPECIAL = {
    "EXTERNAL_AUTH_ID": ["", "saleanonymous"],
    "IS_EMAIL": ["Y", "N"],
    "IS_PHONE": ["Y", "N"],
    "ENTITY_ID": ["CONTACT", "LEAD", "DEAL"],
    "TYPE_ID": ["EMAIL", "PHONE", "WEB"],
}


def random_edits(data_dir: Path, rng: random.Random, count: int) -> list[str]:
    """``count`` edits of random rows of the record layer's raw tables: a column set to
    another row's value (or a special one, or empty), or the row deleted. Returns what
    was done, for the failure message."""
    done = []
    for _ in range(count):
        table = rng.choice(sorted(EDITABLE))
        header, body = read_table(data_dir, table)
        if len(body) < 2:
            continue
        index = rng.randrange(len(body))
        if rng.random() < 0.2:
            done.append(f"{table} {body.pop(index)[0]} deleted")
        else:
            column = rng.choice(EDITABLE[table])
            position = header.index(column)
            choices = [rng.choice(body)[position], "", *SPECIAL.get(column, [])]
            value = rng.choice(choices)
            done.append(f"{table} {body[index][0]} {column}={value!r}")
            body[index][position] = value
        write_table(data_dir, table, header, body)
    return done


def linked_user(data_dir: Path) -> str:
    """A site user that buyers, orders and a CRM contact (its site-member field) link to."""
    linking = []
    for table, column in (
        ("b_sale_fuser", "USER_ID"),
        ("b_sale_order", "USER_ID"),
        ("b_uts_crm_contact", "UF_SITE_MEMBER_ID"),
    ):
        header, body = read_table(data_dir, table)
        linking.append({row[header.index(column)] for row in body} - {""})
    return min(set.intersection(*linking), key=int)


def set_value(data_dir: Path, table: str, key: str, column: str, value: str) -> str:
    header, body = read_table(data_dir, table)
    for row in body:
        if row[0] == key:
            row[header.index(column)] = value
    write_table(data_dir, table, header, body)
    return f"{table} {key} {column}={value!r}"


#: Edits of each round besides the random ones (lookups a random edit rarely hits): the
#: linked user turns technical (round 1, alone) and back, the e-mail property loses its
#: flag and gets it back.
SCENARIO = [
    [],
    [
        ("b_user", "linked", "EXTERNAL_AUTH_ID", "saleanonymous"),
        ("b_sale_order_props", "2", "IS_EMAIL", "N"),
    ],
    [("b_user", "linked", "EXTERNAL_AUTH_ID", "")],
    [("b_sale_order_props", "2", "IS_EMAIL", "Y")],
]


@pytest.fixture(scope="module")
def rounds(tmp_path_factory) -> list[dict]:
    base = tmp_path_factory.mktemp("record_layer")
    full = base / "full"
    generate(full, 300, seed=23)
    export = base / "export"
    export_until(full, export, CUTOFF)
    incremental_dir = base / "incremental"
    incremental_dir.mkdir()
    first = run_dbt(RUN, export, incremental_dir)
    assert first.returncode == 0, first.output[-4000:]

    rng = random.Random(5)
    outcomes = []
    user = None
    for number in range(4):
        # the next hour of data in the first round, then edits only
        if number == 0:
            shutil.rmtree(export)
            shutil.copytree(full, export)
        user = linked_user(export) if number == 1 else user
        edits = [
            set_value(export, table, user if key == "linked" else key, column, value)
            for table, key, column, value in SCENARIO[number]
        ]
        # the round that turns the user technical makes no other edit: a random one could
        # touch the linking rows and hide a missing lookup
        if number != 1:
            edits += random_edits(export, rng, 25)
        incremental = run_dbt(RUN, export, incremental_dir)
        assert incremental.returncode == 0, incremental.output[-4000:]
        # the reference: the same warehouse (same registry, hence same customer uuids)
        # rebuilt with --full-refresh
        reference_dir = base / f"reference_{number}"
        reference_dir.mkdir()
        shutil.copy(incremental.database, reference_dir / "warehouse.duckdb")
        reference = run_dbt([*RUN, "--full-refresh"], export, reference_dir)
        assert reference.returncode == 0, reference.output[-4000:]
        # the incremental warehouse is the next round's starting point: read it now
        outcomes.append(
            {
                "edits": edits,
                "incremental": {
                    model: incremental.rows_without(model) for model in (*MODELS, GUARDS)
                },
                "reference": {model: reference.rows_without(model) for model in (*MODELS, GUARDS)},
                "guards": incremental.output,
                "rebuilt": {model: rebuilt(incremental, model) for model in MODELS},
                "stamps": newest_stamps(incremental),
                "last": incremental,
            }
        )
    # once more on the same export: nothing changed (keys with replica duplicates are
    # re-staged, but their rows stay as staged)
    again = run_dbt(RUN, export, incremental_dir)
    assert again.returncode == 0, again.output[-4000:]
    outcomes.append(
        {
            "run": again,
            "stamps": newest_stamps(again),
            "duplicated_keys": duplicated_keys(export),
        }
    )
    return outcomes


def newest_stamps(run: DbtRun) -> dict:
    return {table: run.scalar(f"select max(_changed_at) from {table}") for table in MODELS}


def duplicated_keys(data_dir: Path) -> int:
    """Keys with more than one raw row, over the record layer's raw tables."""
    count = 0
    for table in EDITABLE:
        _, body = read_table(data_dir, table)
        keys = [row[0] for row in body]
        count += len(keys) - len(set(keys))
    return count


def rebuilt(run: DbtRun, table: str) -> tuple[int, int]:
    """How many rows the run wrote, of how many."""
    return run.query(
        f"select count(*) filter (where _changed_at = (select max(_changed_at) from {table})),"
        f" count(*) from {table}"
    )[0]


def test_incremental_runs_equal_full_builds(rounds):
    for number, outcome in enumerate(rounds[:-1]):
        for model in (*MODELS, GUARDS):
            assert outcome["incremental"][model] == outcome["reference"][model], (
                f"round {number}, {model}, after: {outcome['edits']}"
            )


def test_incremental_runs_recheck_some_guard_values(rounds):
    """The guards of every incremental run re-checked only the values around the changed
    records (equal to a full build's verdicts above), and there was something to guard."""
    for outcome in rounds[:-1]:
        assert "values re-checked around" in outcome["guards"], outcome["guards"][-3000:]
        assert outcome["incremental"][GUARDS]


def test_incremental_runs_rebuild_only_the_changed_records(rounds):
    """Not the whole table (25 edits of a small export still touch many records: an order
    property's flag touches every order with a value of it)."""
    for outcome in rounds[1:-1]:
        for model, (written, total) in outcome["rebuilt"].items():
            assert 0 < written < total, (model, written, total)


def test_the_log_keeps_old_values_and_current_records(rounds):
    run = rounds[-2]["last"]
    batches = run.query(
        "select logged_at, count(*) filter (where is_current), count(*) filter (where not"
        " is_current) from main_intermediate.int_identity__record_changes group by 1 order by 1"
    )
    assert len(batches) == 5  # the first build, then one batch per round
    first, *later = batches
    assert first[2] == 0  # a whole build logs the current records only
    assert all(current > 0 and old > 0 for _, current, old in later)


def test_a_run_without_changes_logs_and_rebuilds_nothing(rounds):
    """The export holds keys with replica duplicates (re-staged by every run), yet a run
    on an unchanged export appends no batch and rebuilds no record."""
    again = rounds[-1]
    assert again["duplicated_keys"] > 0
    assert (
        again["run"].scalar(
            "select count(distinct logged_at) from main_intermediate.int_identity__record_changes"
        )
        == 5
    )
    assert again["stamps"] == rounds[-2]["stamps"]
