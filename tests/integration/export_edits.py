"""Edits of a generated CSV export, as a replica would show them (shared by the tests)."""

from __future__ import annotations

import csv
from pathlib import Path


def read_table(data_dir: Path, table: str) -> tuple[list[str], list[list[str]]]:
    with (data_dir / f"{table}.csv").open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return header, list(reader)


def write_table(data_dir: Path, table: str, header: list[str], body: list[list[str]]) -> None:
    with (data_dir / f"{table}.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(body)


def mutate(data_dir: Path, table: str, change) -> str:
    """Apply `change(header, body)` to one table's CSV; returns what change returns."""
    header, body = read_table(data_dir, table)
    result = change(header, body)
    write_table(data_dir, table, header, body)
    return result


def edit_first(column: str, value: str):
    """Edit one column of the first row (no change-time column touched); returns its key."""

    def change(header: list[str], body: list[list[str]]) -> str:
        body[0][header.index(column)] = value
        return body[0][0]

    return change


def delete_first(header: list[str], body: list[list[str]]) -> str:
    return body.pop(0)[0]


def is_before(header: list[str], row: list[str], column: str, cutoff: str) -> bool:
    """Whether the row's time in ``column`` is set and earlier than ``cutoff`` (both in the
    export's own ``YYYY-MM-DD HH:MM:SS`` text, which sorts as time)."""
    return "" < row[header.index(column)] < cutoff
