"""E-mails and phones the over-merge guards kept out of the identity graph (thin model).

The warehouse counts the records per value and only the shared or blocklisted values'
holders are read (`bitrix_omni.guards`).
"""

from bitrix_omni.frames import relation_query, to_arrow
from bitrix_omni.guards import warehouse_guarded_identifiers
from bitrix_omni.pipeline import normalized_blocklist


def model(dbt, session):
    dbt.config(materialized="table")
    region = dbt.config.get("phone_default_region")
    cap = dbt.config.get("max_customers_per_identifier")
    guarded = warehouse_guarded_identifiers(
        session,
        records=relation_query(dbt.ref("int_identity__records")),
        identifiers=relation_query(dbt.ref("int_identity__normalized_identifiers")),
        links=relation_query(dbt.ref("int_identity__links")),
        blocklist=normalized_blocklist(to_arrow(dbt.ref("identity_blocklist")), region),
        max_customers_per_identifier=int(cap),
    )
    return guarded.rename(columns={"kind": "identifier_kind"})
