"""Normalization cache: every distinct raw e-mail/phone normalized once (thin model).

Incremental: a run normalizes only the raw values it has not seen under the current
normalizer (package, phonenumbers metadata and default region); a change of any of them
re-normalizes everything once. `--full-refresh` rebuilds the cache from scratch. Rows
are stamped `normalized_at`, so readers can rebuild only what uses values a run
(re)normalized.
"""

from datetime import datetime, timezone

from bitrix_omni.frames import to_arrow
from bitrix_omni.pipeline import normalize_new_values, normalizer_fingerprint


def model(dbt, session):
    dbt.config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key=["identifier_kind", "value_raw"],
        on_schema_change="fail",
    )
    region = dbt.config.get("phone_default_region")
    fingerprint = normalizer_fingerprint(region)
    cached = None
    if dbt.is_incremental:
        literal = fingerprint.replace("'", "''")
        cached = to_arrow(
            session.sql(
                f"select identifier_kind, value_raw from {dbt.this} where normalizer = '{literal}'"
            )
        )
    raw_values = to_arrow(dbt.ref("int_identity__raw_values"))
    return normalize_new_values(raw_values, cached, region, datetime.now(timezone.utc))
