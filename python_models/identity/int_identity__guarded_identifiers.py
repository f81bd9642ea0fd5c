"""E-mails and phones the over-merge guards kept out of the identity graph (thin model).

The warehouse counts the records per value and only the shared or blocklisted values'
holders are read; an incremental run re-checks only the values around the records whose
inputs changed since the stored verdicts, and the guarded values whose holder count changed
(`bitrix_omni.guards.run_guards`). The table is replaced whole by every run (the custom
`replace_all` strategy, macros/incremental_scope.sql): it holds a few rows.
"""

from datetime import datetime, timezone

from bitrix_omni.frames import relation_query, to_arrow
from bitrix_omni.guards import run_guards
from bitrix_omni.pipeline import normalized_blocklist


def model(dbt, session):
    dbt.config(
        materialized="incremental",
        incremental_strategy="replace_all",
        on_schema_change="append_new_columns",
    )
    region = dbt.config.get("phone_default_region")
    cap = dbt.config.get("max_customers_per_identifier")
    max_share = dbt.config.get("scoped_resolution_max_share")
    run = run_guards(
        session,
        records=relation_query(dbt.ref("int_identity__records")),
        identifiers=relation_query(dbt.ref("int_identity__normalized_identifiers")),
        links=relation_query(dbt.ref("int_identity__links")),
        blocklist=normalized_blocklist(to_arrow(dbt.ref("identity_blocklist")), region),
        max_customers_per_identifier=int(cap),
        built_at=datetime.now(timezone.utc),
        previous=f"select * from {dbt.this}" if dbt.is_incremental else None,
        fingerprints=relation_query(dbt.ref("int_identity__record_fingerprints")),
        record_changes=relation_query(dbt.ref("int_identity__record_changes")),
        max_share=float(max_share),
    )
    print(run.summary(), flush=True)
    return run.rows
