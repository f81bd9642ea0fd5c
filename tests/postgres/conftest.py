"""Shared fixtures of the PostgreSQL tests: one real server for the whole session.

The server is started by `pg_server.start_server()` (initdb + pg_ctl, no Docker) on first
use and stopped at the end of the session. Without the PostgreSQL binaries the tests skip
locally and FAIL with a clear message when CI=true.

dbt's adapter test suite (dbt-tests-adapter) needs its `project` fixtures and a
`dbt_profile_target`: both are provided here for the `bitrix_postgres` adapter.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from dbt.tests.fixtures.project import *  # noqa: F403 (dbt-tests-adapter's project fixtures)
from pg_server import PostgresServer, PostgresUnavailable, start_server

POSTGRES_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if Path(str(item.fspath)).resolve().is_relative_to(POSTGRES_DIR):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    try:
        server = start_server()
    except PostgresUnavailable as error:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and no PostgreSQL server can be started: {error}")
        pytest.skip(str(error))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="class")
def dbt_profile_target(pg_server: PostgresServer) -> dict:
    """The target of dbt-tests-adapter projects: the test server, adapter bitrix_postgres."""
    params = pg_server.params
    return {
        "type": "bitrix_postgres",
        "threads": 2,
        "host": params["host"],
        "port": params["port"],
        "user": params["user"],
        "pass": params["password"],
        "dbname": params["dbname"],
    }
