"""The server fixture's own behaviour when PostgreSQL is not installed."""

from __future__ import annotations

import pg_server
import pytest


def test_missing_binaries_raise_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PG_BINDIR", str(tmp_path))
    monkeypatch.setattr(pg_server.shutil, "which", lambda name: None)
    monkeypatch.setattr(pg_server.glob, "glob", lambda pattern: [])
    with pytest.raises(pg_server.PostgresUnavailable, match="initdb, pg_ctl, postgres"):
        pg_server.find_bindir()


def test_server_is_up(pg_server):
    import psycopg2

    with psycopg2.connect(**pg_server.params) as connection, connection.cursor() as cursor:
        cursor.execute("show server_version_num")
        assert int(cursor.fetchone()[0]) >= 150000
