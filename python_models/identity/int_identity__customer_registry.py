"""Identity resolution: every record ever seen -> customer_uuid (dbt Python model, thin).

Incremental and never fully refreshed: the previous run's uuids are the memory that keeps
customer_uuids stable when customers merge or split, so they survive `--full-refresh`.
A run resolves only the components that records with changed inputs touch
(`bitrix_omni.scoped`), or the whole graph when there is no registry yet or the change
is large.
"""

from datetime import datetime, timezone

from bitrix_omni.frames import relation_query, to_arrow
from bitrix_omni.pipeline import normalized_blocklist
from bitrix_omni.scoped import Relations, run_resolution


def model(dbt, session):
    dbt.config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key="record_key",
        full_refresh=False,
        on_schema_change="append_new_columns",
    )
    region = dbt.config.get("phone_default_region")
    cap = dbt.config.get("max_customers_per_identifier")
    max_share = dbt.config.get("scoped_resolution_max_share")

    relations = Relations(
        records=relation_query(dbt.ref("int_identity__records")),
        identifiers=relation_query(dbt.ref("int_identity__normalized_identifiers")),
        links=relation_query(dbt.ref("int_identity__links")),
        guarded=relation_query(dbt.ref("int_identity__guarded_identifiers")),
        fingerprints=relation_query(dbt.ref("int_identity__record_fingerprints")),
        guard_fingerprints=relation_query(dbt.ref("int_identity__guard_fingerprints")),
        registry=f"select * from {dbt.this}" if dbt.is_incremental else None,
    )
    blocklist = normalized_blocklist(to_arrow(dbt.ref("identity_blocklist")), region)
    run = run_resolution(
        session, relations, blocklist, int(cap), datetime.now(timezone.utc), float(max_share)
    )
    print(run.summary(), flush=True)
    return run.rows
