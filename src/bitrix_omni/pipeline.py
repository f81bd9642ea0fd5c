"""The identity step as the dbt Python models run it: frames in, frames out.

The dbt models stay a few lines each: they read their refs, call one function here and
return its frame. Everything here is plain pandas/pyarrow and unit-testable without dbt.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from bitrix_omni import normalize
from bitrix_omni.identity import (
    IdentityConfig,
    IdentityResult,
    guard_identifiers,
    resolve_identities,
)

NORMALIZED_IDENTIFIER_COLUMNS = (
    "record_key",
    "identifier_kind",
    "evidence",
    "identifier_value",
    "identifier_hash",
    "identifier_masked",
    "is_valid",
)

REGISTRY_COLUMNS = (
    "record_key",
    "source_table",
    "source_id",
    "customer_uuid",
    "previous_customer_uuid",
    "match_method",
    "component_size",
    "is_anchor",
    "is_current",
    "first_seen_at",
    "last_seen_at",
    "resolved_at",
)


def normalize_identifiers(identifiers: pd.DataFrame, default_region: str = "RU") -> pd.DataFrame:
    """Normalize raw e-mails and phones (one row per record, kind, raw value, evidence).

    Invalid values are kept with ``is_valid = False`` and no normalized value, so a report
    can count what was thrown away instead of losing it silently. The normalized value is
    personal data; ``identifier_hash`` (sha256 of ``kind:value``) and ``identifier_masked``
    are what explanations and joins outside the identity layer should use.

    Columnar throughout (pyarrow): each distinct raw value is normalized once, each
    distinct (kind, value) hashed once, masks are cut without re-parsing the phones.
    """
    kinds = normalize.as_large_strings(identifiers["identifier_kind"])
    raw = identifiers["value_raw"]
    raw = raw.to_numpy(dtype=object) if isinstance(raw, pd.Series) else np.asarray(raw)
    values = pa.nulls(len(kinds), pa.large_string())
    for kind in ("email", "phone"):
        select = pc.fill_null(pc.equal(kinds, pa.scalar(kind, kinds.type)), False)
        rows = np.flatnonzero(np.asarray(select.to_numpy(zero_copy_only=False), dtype=bool))
        if not rows.size:
            continue
        subset = raw[rows]
        normalized = (
            normalize.normalize_emails(subset)
            if kind == "email"
            else normalize.normalize_phones(subset, default_region)
        )
        values = pc.replace_with_mask(values, select, normalized.cast(pa.large_string()))
    table = pa.table(
        {
            "record_key": normalize.as_large_strings(identifiers["record_key"]),
            "identifier_kind": kinds,
            "evidence": normalize.as_large_strings(identifiers["evidence"]),
            "identifier_value": values,
            "identifier_hash": normalize.hash_identifiers(kinds, values),
            "identifier_masked": normalize.mask_identifiers(kinds, values, default_region),
            "is_valid": pc.is_valid(values),
        }
    )
    # Arrow-backed strings (pandas 3's default ``str``; missing values read as NaN), as
    # before: no Python object per value.
    return table.to_pandas()


def normalized_blocklist(blocklist: pd.DataFrame, default_region: str = "RU") -> frozenset[str]:
    """The blocklist seed's values, normalized like identifiers (users may type any format)."""
    if blocklist.empty:
        return frozenset()
    normalized = normalize_identifiers(
        pd.DataFrame(
            {
                "record_key": "blocklist",
                "identifier_kind": blocklist["identifier_kind"].str.strip().str.lower(),
                "value_raw": blocklist["identifier_value"],
                "evidence": "identity_blocklist",
            }
        ),
        default_region,
    )
    return frozenset(normalized.loc[normalized["is_valid"], "identifier_value"])


def _identity_inputs(
    records: pd.DataFrame,
    normalized_identifiers: pd.DataFrame,
    links: pd.DataFrame,
    blocklist: frozenset[str],
    max_customers_per_identifier: int,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, IdentityConfig]:
    """The dbt inputs in the shape of :mod:`bitrix_omni.identity` (valid identifiers only)."""
    valid = normalized_identifiers[normalized_identifiers["is_valid"]]
    return (
        records[["record_key", "source_table", "source_id", "first_seen_at"]],
        pd.DataFrame(
            {
                "record_key": valid["record_key"],
                "kind": valid["identifier_kind"],
                "value": valid["identifier_value"],
                "evidence": valid["evidence"],
            }
        ),
        links[["record_key", "other_record_key", "evidence"]],
        IdentityConfig(
            max_customers_per_identifier=int(max_customers_per_identifier),
            blocklist=blocklist,
        ),
    )


def resolve(
    records: pd.DataFrame,
    normalized_identifiers: pd.DataFrame,
    links: pd.DataFrame,
    blocklist: frozenset[str],
    max_customers_per_identifier: int,
    previous: pd.DataFrame | None = None,
) -> IdentityResult:
    """Run identity resolution on the dbt inputs (valid identifiers only).

    ``evidence`` is not built (the dbt project derives it in SQL): the result's
    ``evidence`` frame is empty.
    """
    records, identifiers, links, config = _identity_inputs(
        records, normalized_identifiers, links, blocklist, max_customers_per_identifier
    )
    return resolve_identities(records, identifiers, links, previous, config, with_evidence=False)


def registry_frame(
    result: IdentityResult,
    records: pd.DataFrame,
    previous_registry: pd.DataFrame | None,
    resolved_at: datetime,
) -> pd.DataFrame:
    """The customer registry: every record ever seen, current ones with their new uuid.

    Records that disappeared from Bitrix since the previous run keep their last row with
    ``is_current = False``, so their uuid is never reused for someone else and history
    stays explainable.
    """
    current = result.identity_map.merge(
        records[["record_key", "first_seen_at", "last_seen_at"]], on="record_key", how="left"
    )
    current["is_current"] = True
    current["resolved_at"] = pd.Timestamp(resolved_at).tz_localize(None)
    frames = [current]
    if previous_registry is not None and not previous_registry.empty:
        gone = previous_registry[~previous_registry["record_key"].isin(current["record_key"])]
        if not gone.empty:
            gone = gone.copy()
            gone["is_current"] = False
            frames.append(gone)
    registry = pd.concat(frames, ignore_index=True) if len(frames) > 1 else current
    registry["source_id"] = registry["source_id"].astype("int64")
    registry["component_size"] = registry["component_size"].astype("int64")
    return registry[list(REGISTRY_COLUMNS)].sort_values("record_key", ignore_index=True)


def guarded_identifiers(
    identifiers: pd.DataFrame,
    links: pd.DataFrame,
    records: pd.DataFrame,
    blocklist: frozenset[str],
    max_customers_per_identifier: int,
) -> pd.DataFrame:
    """Identifiers the guards kept out of the graph, with reason and counts.

    The guard step alone (:func:`bitrix_omni.identity.guard_identifiers`): the same frame
    as ``resolve(...).guarded`` without resolving the whole graph.
    """
    guarded = guard_identifiers(
        *_identity_inputs(records, identifiers, links, blocklist, max_customers_per_identifier)
    )
    return guarded.rename(columns={"kind": "identifier_kind"})


def normalize_addresses(columns: list[pd.Series]) -> pd.DataFrame:
    """Distinct raw e-mail addresses of several columns with their normalized form.

    One row per distinct raw value: ``address_raw``, ``email`` (NULL when invalid) and
    ``email_hash`` — the same hash as ``identifier_hash`` of identity identifiers.
    """
    raw = pd.concat([column.dropna() for column in columns], ignore_index=True)
    raw = raw[raw.astype(str).str.len() > 0].drop_duplicates().sort_values(ignore_index=True)
    emails = np.asarray(normalize.normalize_emails(raw.to_numpy(dtype=object)).to_pylist())
    return pd.DataFrame(
        {
            "address_raw": raw.to_numpy(dtype=object),
            "email": emails,
            "email_hash": normalize.hash_identifiers(
                np.full(len(emails), "email", dtype=object), emails
            ).to_numpy(zero_copy_only=False),
        }
    )
