"""Identity resolution: every record ever seen -> customer_uuid (dbt Python model, thin).

Incremental and never fully refreshed: the previous run's uuids are the memory that keeps
customer_uuids stable when customers merge or split, so they survive `--full-refresh`.
"""

from datetime import datetime, timezone

from bitrix_omni.frames import to_arrow
from bitrix_omni.pipeline import (
    IDENTIFIER_INPUT_COLUMNS,
    LINK_INPUT_COLUMNS,
    RECORD_INPUT_COLUMNS,
    normalized_blocklist,
    registry_frame,
    resolve,
)


def model(dbt, session):
    dbt.config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key="record_key",
        full_refresh=False,
    )
    region = dbt.config.get("phone_default_region")
    cap = dbt.config.get("max_customers_per_identifier")

    records = to_arrow(dbt.ref("int_identity__records"), RECORD_INPUT_COLUMNS)
    identifiers = to_arrow(
        dbt.ref("int_identity__normalized_identifiers"), IDENTIFIER_INPUT_COLUMNS
    )
    links = to_arrow(dbt.ref("int_identity__links"), LINK_INPUT_COLUMNS)
    blocklist = normalized_blocklist(to_arrow(dbt.ref("identity_blocklist")), region)
    previous = to_arrow(session.sql(f"select * from {dbt.this}")) if dbt.is_incremental else None

    result = resolve(records, identifiers, links, blocklist, int(cap), previous)
    return registry_frame(result, records, previous, datetime.now(timezone.utc))
