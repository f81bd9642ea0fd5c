"""Normalized e-mails and phones of identity records (dbt Python model, a thin adapter)."""

from bitrix_omni.frames import to_arrow
from bitrix_omni.pipeline import normalize_identifiers


def model(dbt, session):
    dbt.config(materialized="table")
    region = dbt.config.get("phone_default_region")
    identifiers = to_arrow(dbt.ref("int_identity__identifiers"))
    return normalize_identifiers(identifiers, default_region=region)
