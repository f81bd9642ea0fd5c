"""Fixtures that run the real dbt project on DuckDB against a given raw-data directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from dbt_runner import DbtRun, run_dbt

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def dbt_build_on() -> Callable[..., DbtRun]:
    """Build the whole project on a data directory; fail the test with dbt's output if it fails."""

    def build(data_dir: Path, work_dir: Path, *extra_args: str, **kwargs) -> DbtRun:
        result = run_dbt(["build", *extra_args], data_dir, work_dir, **kwargs)
        assert result.returncode == 0, result.output[-6000:]
        return result

    return build


@pytest.fixture(scope="session")
def dirty_export() -> Path:
    return FIXTURES / "dirty_export"
