"""The same export as Parquet files, and a site without the CRM and sender modules."""

from __future__ import annotations

import pytest
from dbt_runner import run_dbt

from bitrix_omni.generate import generate

pytestmark = pytest.mark.integration

STAGING_COUNTS = """
    select table_name, estimated_size
    from duckdb_tables()
    where schema_name = 'main_staging'
    order by table_name
"""


def staging_counts(run) -> dict[str, int]:
    names = [row[0] for row in run.query(STAGING_COUNTS)]
    return {name: run.scalar(f"select count(*) from main_staging.{name}") for name in names}


def test_parquet_export_gives_the_same_staging_as_csv(tmp_path):
    csv_dir, parquet_dir = tmp_path / "csv", tmp_path / "parquet"
    generate(csv_dir, 300, seed=3)
    generate(parquet_dir, 300, seed=3, fmt="parquet")
    assert not list(parquet_dir.glob("b_*.csv"))
    runs = []
    for data_dir in (csv_dir, parquet_dir):
        work_dir = tmp_path / f"build_{data_dir.name}"
        work_dir.mkdir()
        run = run_dbt(
            ["build", "-s", "staging", "--indirect-selection", "cautious"], data_dir, work_dir
        )
        assert run.returncode == 0, run.output[-4000:]
        runs.append(run)
    from_csv, from_parquet = (staging_counts(run) for run in runs)
    assert from_csv == from_parquet
    assert from_csv["stg_bitrix__users"] > 0


def test_shop_without_crm_and_sender_modules(tmp_path):
    crm_and_sender = [
        "b_crm_contact",
        "b_uts_crm_contact",
        "b_crm_lead",
        "b_crm_deal",
        "b_crm_field_multi",
        "b_crm_act",
        "b_crm_act_bind",
        "b_crm_utm",
        "b_crm_status",
        "b_sender_contact",
        "b_sender_posting",
        "b_sender_posting_recipient",
        "b_sender_posting_read",
        "b_sender_posting_click",
        "bl_email_events",
        "b_sale_order_props",
    ]
    data_dir = tmp_path / "export"
    generate(data_dir, 300, seed=4, omit_tables=crm_and_sender)
    work_dir = tmp_path / "build"
    work_dir.mkdir()
    run = run_dbt(["build"], data_dir, work_dir)
    assert run.returncode == 0, run.output[-4000:]
    assert "raw table b_crm_lead not found" in run.output
    assert run.scalar("select count(*) from main.bl_customer_profile") > 0
    assert (
        run.scalar(
            "select count(*) from main.bl_customer_identity_map where source_table like 'b_crm%'"
        )
        == 0
    )
    # without b_sale_order_props, checkout e-mails are found by property code
    assert (
        run.scalar(
            "select count(*) from main_intermediate.int_identity__identifiers"
            " where evidence = 'b_sale_order_props_value.EMAIL'"
        )
        > 0
    )


def test_a_raw_table_gone_after_a_build_stops_the_run(tmp_path):
    """A raw table that disappears after it was staged (a broken replication) is an error
    that names the fix, not an empty table whose every key would be deleted; once the site
    really has no such table, --full-refresh of that model empties it."""
    data_dir = tmp_path / "export"
    generate(data_dir, 100, seed=5)
    work_dir = tmp_path / "build"
    work_dir.mkdir()
    selection = ["-s", "stg_bitrix__crm_communications"]
    first = run_dbt(["run", *selection], data_dir, work_dir)
    assert first.returncode == 0, first.output[-4000:]
    count = "select count(*) from main_staging.stg_bitrix__crm_communications"
    staged = first.scalar(count)
    assert staged > 0

    (data_dir / "b_crm_field_multi.csv").unlink()
    gone = run_dbt(["run", *selection], data_dir, work_dir)
    assert gone.returncode != 0
    assert "raw table b_crm_field_multi not found" in gone.output
    assert "--full-refresh --select stg_bitrix__crm_communications" in gone.output
    assert "Traceback" not in gone.output
    assert gone.scalar(count) == staged

    rebuilt = run_dbt(["run", "--full-refresh", *selection], data_dir, work_dir)
    assert rebuilt.returncode == 0, rebuilt.output[-4000:]
    assert rebuilt.scalar(count) == 0
