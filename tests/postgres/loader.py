"""Load a directory of raw Bitrix CSV exports into a PostgreSQL schema, as text columns.

`upper_case=True` creates quoted upper-case column names (as a MySQL replication writes
them), otherwise lower-case names. Every column is text; COPY's CSV rules match the
project's CSV contract (header, comma, double quotes, empty unquoted field = NULL).
"""

from __future__ import annotations

import csv
from pathlib import Path

import psycopg2


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def load_csv_dir(
    conninfo: dict, data_dir: Path, schema: str, *, upper_case: bool
) -> dict[str, int]:
    """Create `schema` afresh and load every <table>.csv in data_dir; return row counts."""
    counts: dict[str, int] = {}
    connection = psycopg2.connect(**conninfo)
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(f"drop schema if exists {quote(schema)} cascade")
            cursor.execute(f"create schema {quote(schema)}")
            for path in sorted(Path(data_dir).glob("*.csv")):
                if path.name.startswith("_"):
                    continue
                with path.open(encoding="utf-8", newline="") as handle:
                    header = next(csv.reader(handle))
                names = [n.upper() if upper_case else n.lower() for n in header]
                table = f"{quote(schema)}.{quote(path.stem)}"
                columns = ", ".join(f"{quote(n)} text" for n in names)
                cursor.execute(f"create table {table} ({columns})")
                with path.open("rb") as handle:
                    cursor.copy_expert(
                        f"copy {table} from stdin with (format csv, header true, encoding 'UTF8')",
                        handle,
                    )
                counts[path.stem] = cursor.rowcount
    finally:
        connection.close()
    return counts
