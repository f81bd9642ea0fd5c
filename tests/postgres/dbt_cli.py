"""Runs dbt in a subprocess for the PostgreSQL tests (shared by the test modules)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]


def prod_target_env(params: dict) -> dict[str, str]:
    """Environment of the project's own ``prod`` target (profiles.yml reads credentials from
    env vars) for the database ``params`` of the test server."""
    return {
        "BITRIX_OMNI_TARGET": "prod",
        "BITRIX_OMNI_PG_HOST": str(params["host"]),
        "BITRIX_OMNI_PG_PORT": str(params["port"]),
        "BITRIX_OMNI_PG_USER": params["user"],
        "DBT_ENV_SECRET_BITRIX_OMNI_PG_PASSWORD": params["password"],
        "BITRIX_OMNI_PG_DATABASE": params["dbname"],
        "BITRIX_OMNI_PG_SSLMODE": "disable",
    }


def _command(
    args: list[str], env: dict[str, str], program: list[str] | None = None
) -> tuple[list[str], dict[str, str]]:
    if program is None:
        program = [shutil.which("dbt", path=str(Path(sys.executable).parent)) or "dbt"]
    return [*program, *args], {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", **env}


def dbt(
    args: list[str],
    env: dict[str, str],
    project_dir: Path = PROJECT_DIR,
    program: list[str] | None = None,
) -> subprocess.CompletedProcess:
    """`dbt <args>` in ``project_dir`` with ``env`` on top of this process's environment;
    ``program``: the command that stands for `dbt` (default: this environment's dbt)."""
    command, full_env = _command(args, env, program)
    return subprocess.run(
        command, cwd=project_dir, env=full_env, capture_output=True, text=True, check=False
    )


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """:func:`dbt` in the background (this project), its output going to ``log``."""
    command, full_env = _command(args, env)
    return subprocess.Popen(
        command, cwd=PROJECT_DIR, env=full_env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )
