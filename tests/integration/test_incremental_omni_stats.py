"""An incremental bl_omni_stats run after new data equals a full refresh on the same data."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from dbt_runner import run_dbt

from bitrix_omni.generate import generate

pytestmark = pytest.mark.integration

CUTOFF = "2024-10-01 00:00:00"

# Tables whose rows appear over time, and the column saying when (server-local text).
TIME_COLUMNS = {
    "b_user": "DATE_REGISTER",
    "b_sale_fuser": "DATE_INSERT",
    "b_sale_order": "DATE_INSERT",
    "b_sale_basket": "DATE_INSERT",
    "b_crm_lead": "DATE_CREATE",
    "b_crm_contact": "DATE_CREATE",
    "b_crm_deal": "DATE_CREATE",
    "b_crm_act": "CREATED",
    "b_sender_posting_recipient": "DATE_SENT",
    "b_sender_posting_read": "DATE_INSERT",
    "b_sender_posting_click": "DATE_INSERT",
    "bl_email_events": "EVENT_TIME",
}


def copy_until(source: Path, target: Path, cutoff: str) -> None:
    """The export as it looked at `cutoff`: rows created later are not there yet."""
    target.mkdir()
    for path in source.glob("*.csv"):
        table = path.stem
        if table not in TIME_COLUMNS:
            shutil.copy(path, target / path.name)
            continue
        with (
            path.open(encoding="utf-8", newline="") as reader_file,
            (target / path.name).open("w", encoding="utf-8", newline="") as writer_file,
        ):
            reader = csv.DictReader(reader_file)
            writer = csv.DictWriter(writer_file, fieldnames=reader.fieldnames, lineterminator="\n")
            writer.writeheader()
            for row in reader:
                when = (row[TIME_COLUMNS[table]] or "").strip()
                if not when or when < cutoff:
                    writer.writerow(row)


def stats(run) -> list[tuple]:
    return run.query("select * from main.bl_omni_stats order by hour_at, channel")


def test_incremental_run_equals_full_refresh(tmp_path):
    full_data = tmp_path / "full"
    generate(full_data, 800, seed=5)
    early_data = tmp_path / "early"
    copy_until(full_data, early_data, CUTOFF)

    incremental_dir = tmp_path / "incremental"
    incremental_dir.mkdir()
    first = run_dbt(["build"], early_data, incremental_dir)
    assert first.returncode == 0, first.output[-4000:]
    rows_before = len(stats(first))
    second = run_dbt(["build"], full_data, incremental_dir)
    assert second.returncode == 0, second.output[-4000:]

    full_dir = tmp_path / "full_refresh"
    full_dir.mkdir()
    reference = run_dbt(["build"], full_data, full_dir)
    assert reference.returncode == 0, reference.output[-4000:]

    assert len(stats(reference)) > rows_before > 0
    assert stats(second) == stats(reference)
