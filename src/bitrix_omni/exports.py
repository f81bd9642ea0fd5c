"""Operations on a directory of exported Bitrix tables (<table>.csv files).

``export_until`` gives the export as it looked at an earlier moment: the incremental tests
and the hourly-run benchmarks build on it first, then on the full export.
``as_replicated_parquet`` gives the export as a replication into Parquet files would
leave it: every row stamped with its load time, files in load-time order.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

#: The creation-time column of each table whose rows appear over time (server-local text
#: ``YYYY-MM-DD HH:MM:SS``; bl_email_events is UTC). Other tables are copied whole.
TIME_COLUMNS: dict[str, str] = {
    "b_user": "DATE_REGISTER",
    "b_sale_fuser": "DATE_INSERT",
    "b_sale_order": "DATE_INSERT",
    "b_sale_basket": "DATE_INSERT",
    "b_crm_lead": "DATE_CREATE",
    "b_crm_contact": "DATE_CREATE",
    "b_crm_deal": "DATE_CREATE",
    "b_crm_act": "CREATED",
    "b_sender_posting_recipient": "DATE_SENT",
    "b_sender_posting_read": "DATE_INSERT",
    "b_sender_posting_click": "DATE_INSERT",
    "bl_email_events": "EVENT_TIME",
}


def export_until(source: Path, target: Path, cutoff: str) -> Path:
    """Copy the CSV export ``source`` to ``target`` without rows created at or after ``cutoff``.

    ``cutoff`` is text in the export's own format (``YYYY-MM-DD HH:MM:SS``); rows whose time
    is missing are kept. ``target`` is replaced if it exists.
    """
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    with duckdb.connect() as connection:
        for path in sorted(source.glob("*.csv")):
            column = TIME_COLUMNS.get(path.stem)
            if column is None:
                shutil.copy(path, target / path.name)
                continue
            connection.execute(
                f"""
                copy (
                    select * from read_csv(?, all_varchar = true, header = true)
                    where coalesce(trim("{column}"), '') = '' or "{column}" < ?
                ) to '{target / path.name}' (header, delimiter ',')
                """,
                [str(path), cutoff],
            )
    return target


LOADED_AT = "_LOADED_AT"


def as_replicated_parquet(source: Path, target: Path, loaded_from: str, loaded_until: str) -> Path:
    """Copy the CSV export ``source`` to ``target`` as one Parquet file per table, with
    ``_LOADED_AT`` (timestamp) as a replication tool stamps it: the row's creation time
    where the table has one (``TIME_COLUMNS``), else a moment in
    [``loaded_from``, ``loaded_until``) picked by a hash of the row (loaded over time, not
    all at once). Rows are written in load-time order, the order appends leave them in, so
    a reader filtering on ``_LOADED_AT`` skips the row groups loaded before its mark.

    The same row gets the same load time in every export converted with the same bounds:
    an export cut at ``loaded_until`` (``export_until``) and the full export differ by their
    new rows only. Columns stay text, as in the CSV contract. Other files are copied;
    ``target`` is replaced if it exists.
    """
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    with duckdb.connect() as connection:
        span = connection.execute(
            "select epoch(cast(? as timestamp)) - epoch(cast(? as timestamp))",
            [loaded_until, loaded_from],
        ).fetchone()[0]
        if span <= 0:
            raise ValueError(f"loaded_until {loaded_until} is not after loaded_from {loaded_from}")
        spread = (
            f"cast('{loaded_from}' as timestamp)"
            f" + to_seconds(cast(hash(raw) % {int(span)} as bigint))"
        )
        for path in sorted(source.iterdir()):
            if path.suffix != ".csv" or path.name.startswith("_"):
                shutil.copy(path, target / path.name)
                continue
            column = TIME_COLUMNS.get(path.stem)
            stamp = (
                f'coalesce(try_cast(raw."{column}" as timestamp), {spread})' if column else spread
            )
            connection.execute(
                f"""
                copy (
                    select raw.*, {stamp} as "{LOADED_AT}"
                    from read_csv(?, all_varchar = true, header = true) as raw
                    order by "{LOADED_AT}"
                ) to '{target / (path.stem + ".parquet")}' (format parquet)
                """,
                [str(path)],
            )
    return target
