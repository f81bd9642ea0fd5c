"""Operations on a directory of exported Bitrix tables (<table>.csv files).

``export_until`` gives the export as it looked at an earlier moment: the incremental tests
and the hourly-run benchmark build on it first, then on the full export.
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
