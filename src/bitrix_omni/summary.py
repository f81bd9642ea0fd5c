"""Print where a DuckDB build put its results, with row counts, for people and for CI logs."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

DEFAULT_DATABASE = "target/bitrix_omni.duckdb"


def database_path() -> Path:
    """The DuckDB file the default profile writes (BITRIX_OMNI_DUCKDB_PATH or the default)."""
    return Path(os.environ.get("BITRIX_OMNI_DUCKDB_PATH", DEFAULT_DATABASE)).resolve()


def relation_counts(database: Path) -> list[tuple[str, str, int]]:
    """(schema, relation, rows) for every table and view the build created, schema by schema."""
    with duckdb.connect(str(database), read_only=True) as connection:
        relations = connection.execute(
            """
            select table_schema, table_name
            from information_schema.tables
            where table_catalog = current_database()
              and table_schema not in ('information_schema', 'pg_catalog')
            order by table_schema, table_name
            """
        ).fetchall()
        return [
            (
                schema,
                name,
                connection.execute(f'select count(*) from "{schema}"."{name}"').fetchone()[0],
            )
            for schema, name in relations
        ]


def render(database: Path) -> str:
    if not database.exists():
        return f"No DuckDB database at {database}: run `dbt build` first."
    rows = relation_counts(database)
    width = max((len(f"{schema}.{name}") for schema, name, _ in rows), default=10)
    lines = [f"Results are in the DuckDB file {database}", ""]
    lines += [f"  {f'{schema}.{name}':<{width}}  {count:>10,}" for schema, name, count in rows]
    lines += [
        "",
        "Look at them with Python, e.g.:",
        f"  .venv/bin/python -c \"import duckdb; duckdb.connect('{database}', read_only=True)"
        ".sql('select * from main.bl_customer_profile limit 5').show()\"",
    ]
    return "\n".join(lines)
