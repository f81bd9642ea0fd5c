"""The DuckDB target of profiles.yml: settings a user sets through the environment."""

from __future__ import annotations

import json

import pytest
from dbt_runner import PROJECT_DIR, run_dbt

pytestmark = pytest.mark.integration

SHOW = ["show", "--inline", "select current_setting('memory_limit') as m", "--output", "json"]


def _memory_limit(tmp_path, **env: str) -> str:
    run = run_dbt(SHOW, PROJECT_DIR / "data" / "demo", tmp_path, extra_env=env)
    assert run.returncode == 0, run.output[-4000:]
    shown = json.loads(run.output[run.output.index("{") : run.output.rindex("}") + 1])
    return shown["show"][0]["m"]


def test_memory_limit_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("BITRIX_OMNI_DUCKDB_MEMORY_LIMIT", raising=False)
    assert _memory_limit(tmp_path, BITRIX_OMNI_DUCKDB_MEMORY_LIMIT="1GiB") == "1.0 GiB"
    default = _memory_limit(tmp_path)  # DuckDB's own default: 80% of the RAM
    assert default != "1.0 GiB" and default.endswith("iB")
