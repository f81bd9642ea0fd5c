"""The whole `dbt build` on generated Bitrix data: staging counts, identity accuracy, stability."""

from __future__ import annotations

import csv
import shutil

import duckdb
import pandas as pd
import pytest
from dbt_runner import run_dbt

from bitrix_omni.accuracy import pairwise_scores, read_truth
from bitrix_omni.generate import generate

pytestmark = pytest.mark.integration

CUSTOMERS = 1500


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("generated")
    generate(data_dir, CUSTOMERS, seed=11)
    return data_dir


@pytest.fixture(scope="module")
def built(dbt_build_on, generated, tmp_path_factory):
    return dbt_build_on(generated, tmp_path_factory.mktemp("build"))


def distinct_ids(path, column="ID"):
    with open(path, encoding="utf-8", newline="") as handle:
        return {row[column].strip() for row in csv.DictReader(handle) if row[column].strip()}


@pytest.mark.parametrize(
    ("model", "table"),
    [
        ("stg_bitrix__users", "b_user"),
        ("stg_bitrix__orders", "b_sale_order"),
        ("stg_bitrix__crm_contacts", "b_crm_contact"),
        ("stg_bitrix__crm_activities", "b_crm_act"),
        ("stg_bitrix__sender_recipients", "b_sender_posting_recipient"),
    ],
)
def test_staging_has_one_row_per_raw_primary_key(built, generated, model, table):
    expected = distinct_ids(generated / f"{table}.csv")
    assert built.scalar(f"select count(*) from main_staging.{model}") == len(expected)


def test_identity_map_covers_every_record_once(built):
    records = built.scalar("select count(*) from main_intermediate.int_identity__records")
    mapped = built.scalar("select count(distinct record_key) from main.bl_customer_identity_map")
    assert records == mapped > CUSTOMERS


def test_identity_accuracy_against_known_persons(built, generated):
    """Precision first: merging strangers corrupts every report downstream.

    Thresholds: the generator deliberately puts households (two people, one phone) into the
    data; merging them is a documented limit that costs a few per cent of precision. Recall is
    lower by design: people with no shared identifier across devices cannot be linked.
    """
    with duckdb.connect(str(built.database), read_only=True) as connection:
        predicted = connection.execute(
            "select record_key, customer_uuid from main.bl_customer_identity_map"
        ).df()
    scores = pairwise_scores(predicted, read_truth(str(generated / "_truth_persons.csv")))
    assert scores.records > CUSTOMERS
    assert scores.precision >= 0.95, scores
    assert scores.recall >= 0.75, scores


def test_junk_identifiers_are_guarded_not_merged(built):
    guarded = built.query(
        "select reason, count(*) from main_intermediate.int_identity__guarded_identifiers"
        " group by 1"
    )
    assert dict(guarded).get("over_shared", 0) + dict(guarded).get("blocklisted", 0) >= 1
    assert built.scalar("select largest_customer_records from main.bl_identity_graph_health") < 60


def test_profile_inputs(built):
    row = built.query(
        "select count(*), count(user_id), count(email), count(phone)"
        " from main_intermediate.int_identity__customers"
    )[0]
    customers, with_user, with_email, with_phone = row
    assert customers == built.scalar(
        "select count(distinct customer_uuid) from main.bl_customer_identity_map"
    )
    assert 0 < with_user < customers
    assert 0 < with_email < customers
    assert 0 < with_phone < customers


def test_rebuild_keeps_uuids_even_with_full_refresh(built, generated, tmp_path_factory):
    work_dir = built.database.parent
    before = _uuids(built.database)
    rerun = run_dbt(["build", "--full-refresh"], generated, work_dir)
    assert rerun.returncode == 0, rerun.output[-4000:]
    assert _uuids(built.database) == before
    assert rerun.scalar("select count(*) from main.bl_customer_merge_ledger") == 0


def test_fresh_warehouse_gives_the_same_uuids(built, generated, tmp_path_factory):
    fresh = run_dbt(["build"], generated, tmp_path_factory.mktemp("fresh"))
    assert fresh.returncode == 0, fresh.output[-4000:]
    assert _uuids(fresh.database) == _uuids(built.database)


def _uuids(database) -> dict[str, str]:
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.execute(
            "select record_key, customer_uuid from main.bl_customer_identity_map"
        ).fetchall()
    return dict(rows)


def test_merge_of_two_customers_is_recorded(dirty_export, tmp_path_factory):
    """Order 101 (anonymous checkout) joins Ivan once its checkout e-mail arrives."""
    data_dir = tmp_path_factory.mktemp("merge_data")
    work_dir = tmp_path_factory.mktemp("merge_build")
    for path in dirty_export.glob("*.csv"):
        if path.name != "b_sale_order_props_value.csv":
            shutil.copy(path, data_dir / path.name)
    first = run_dbt(["build"], data_dir, work_dir)
    assert first.returncode == 0, first.output[-4000:]
    ivan = first.scalar(
        "select customer_uuid from main.bl_customer_identity_map where record_key = 'b_user:1'"
    )
    guest = first.scalar(
        "select customer_uuid from main.bl_customer_identity_map"
        " where record_key = 'b_sale_order:101'"
    )
    assert ivan != guest

    shutil.copy(dirty_export / "b_sale_order_props_value.csv", data_dir)
    second = run_dbt(["build"], data_dir, work_dir)
    assert second.returncode == 0, second.output[-4000:]
    merged = dict(
        second.query(
            "select record_key, customer_uuid from main.bl_customer_identity_map"
            " where record_key in ('b_user:1', 'b_sale_order:101', 'b_sale_fuser:11')"
        )
    )
    assert set(merged.values()) == {ivan}  # the older customer's uuid survives
    ledger = pd.DataFrame(
        second.query(
            "select from_customer_uuid, to_customer_uuid, event_type, records_moved"
            " from main.bl_customer_merge_ledger"
        ),
        columns=["from", "to", "event", "moved"],
    )
    assert ledger.to_dict("records") == [{"from": guest, "to": ivan, "event": "merge", "moved": 2}]
