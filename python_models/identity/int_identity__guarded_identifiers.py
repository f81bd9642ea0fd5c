"""E-mails and phones the over-merge guards kept out of the identity graph (thin model)."""

from bitrix_omni.frames import to_arrow
from bitrix_omni.pipeline import (
    IDENTIFIER_INPUT_COLUMNS,
    LINK_INPUT_COLUMNS,
    RECORD_INPUT_COLUMNS,
    guarded_identifiers,
    normalized_blocklist,
)


def model(dbt, session):
    dbt.config(materialized="table")
    region = dbt.config.get("phone_default_region")
    cap = dbt.config.get("max_customers_per_identifier")
    return guarded_identifiers(
        identifiers=to_arrow(
            dbt.ref("int_identity__normalized_identifiers"), IDENTIFIER_INPUT_COLUMNS
        ),
        links=to_arrow(dbt.ref("int_identity__links"), LINK_INPUT_COLUMNS),
        records=to_arrow(dbt.ref("int_identity__records"), RECORD_INPUT_COLUMNS),
        blocklist=normalized_blocklist(to_arrow(dbt.ref("identity_blocklist")), region),
        max_customers_per_identifier=int(cap),
    )
