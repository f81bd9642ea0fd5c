"""Incremental runs after new data equal a full refresh on the same data: the hourly
bl_omni_stats and the normalization cache behind the identity identifiers."""

from __future__ import annotations

import pytest
from dbt_runner import run_dbt

from bitrix_omni.exports import export_until
from bitrix_omni.generate import generate

pytestmark = pytest.mark.integration

CUTOFF = "2024-10-01 00:00:00"


def stats(run) -> list[tuple]:
    return run.query("select * from main.bl_omni_stats order by hour_at, channel")


#: Tables built from the normalization cache, which an incremental run only extends.
NORMALIZED = (
    "int_identity__normalized_values",
    "int_identity__normalized_identifiers",
    "int_identity__contact_addresses",
)


def normalized(run, table: str) -> list[tuple]:
    """The table's rows without run-time stamps, which differ between the two builds;
    nothing else may."""
    return run.rows_without(f"main_intermediate.{table}")


def test_incremental_run_equals_full_refresh(tmp_path):
    full_data = tmp_path / "full"
    generate(full_data, 800, seed=5)
    early_data = tmp_path / "early"
    export_until(full_data, early_data, CUTOFF)

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
    for table in NORMALIZED:
        assert normalized(second, table) == normalized(reference, table), table
