"""Conventions of the project's SQL that no linter checks.

An import CTE (``name as (select * from {{ ref(...) }})``) that a model reads more than
once must be ``not materialized``: DuckDB and PostgreSQL materialize a CTE referenced more
than once, which copies the whole relation first and keeps the filters of its readers
(the scope of an incremental run) out of the scan. On the 1M-customer warehouse of an
hourly run that copy made `int_identity__record_fingerprints` 4.9 s instead of 1.1 s.

The check reads the SQL as written: it sees reads by ``from``/``join`` and CTE names passed
to a macro as ``'relation'`` (``key_fingerprints``), not names a macro takes from a list of
its own (the record log's origins in ``record_change_touches``); mark those by hand.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SQL_FILES = sorted(
    path
    for folder in ("models", "macros", "tests/dbt", "analyses", "snapshots")
    for path in (REPO / folder).rglob("*.sql")
)

#: ``name as (`` then a body that only selects everything from a ref or source.
IMPORT_CTE = re.compile(
    r"^\s*(?P<name>[a-z_][a-z0-9_]*) as (?P<hint>not materialized )?\(\s*"
    r"select \* from \{\{ (?:ref|source)\([^)]*\) \}\}\s*\)",
    re.MULTILINE,
)


def _without_comments(sql: str) -> str:
    sql = re.sub(r"\{#.*?#\}", "", sql, flags=re.DOTALL)
    return re.sub(r"--[^\n]*", "", sql)


def import_ctes_read_twice(sql: str) -> list[str]:
    """The import CTEs of ``sql`` read more than once without ``not materialized``: read
    by ``from``/``join``, or named to a macro that reads it (``'relation': 'name'``)."""
    sql = _without_comments(sql)
    found = []
    for match in IMPORT_CTE.finditer(sql):
        name = match.group("name")
        reads = len(re.findall(rf"\b(?:from|join)\s+{name}\b|'relation':\s*'{name}'", sql))
        if reads > 1 and not match.group("hint"):
            found.append(name)
    return found


def test_the_check_finds_an_import_read_twice() -> None:
    sql = """
    with

    orders as (
        select * from {{ ref('stg_bitrix__orders') }}
    ),

    users as not materialized (
        select * from {{ ref('stg_bitrix__users') }}
    ),

    -- from orders in a comment does not count
    paid as (select * from orders where is_paid),

    fingerprints as (
        {{ key_fingerprints('user_id', [{'relation': 'users', 'columns': ['email']}]) }}
    ),

    both_ as (
        select * from users inner join paid on users.user_id = paid.user_id
        union all
        select * from users inner join orders on users.user_id = orders.user_id
    )

    select * from both_
    """
    assert import_ctes_read_twice(sql) == ["orders"]
    assert import_ctes_read_twice(sql.replace("orders as (", "orders as not materialized (")) == []
    assert import_ctes_read_twice(sql.replace("users as not materialized (", "users as (")) == [
        "orders",
        "users",
    ]


def test_sql_files_are_found() -> None:
    assert len(SQL_FILES) > 40


@pytest.mark.parametrize("path", SQL_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_import_ctes_read_twice_are_not_materialized(path: Path) -> None:
    assert import_ctes_read_twice(path.read_text()) == [], (
        "mark these import CTEs `as not materialized`: they are read more than once"
    )
