"""The identity step as the dbt Python models run it: frames in, frames out.

The dbt models stay a few lines each: they read their refs, call one function here and
return its frame. Everything here is plain pandas/pyarrow and unit-testable without dbt.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc

from bitrix_omni import __version__, kernels, memory, normalize
from bitrix_omni.arrow import as_text, bool_mask
from bitrix_omni.frames import to_arrow
from bitrix_omni.identity import (
    IdentityConfig,
    IdentityResult,
    guard_identifiers,
    key_positions,
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
    "_input_fingerprint",
)

#: The fingerprint of a record's resolution inputs that the registry keeps (see
#: :mod:`bitrix_omni.scoped`); records whose fingerprint changed are re-resolved.
FINGERPRINT_COLUMN = "_input_fingerprint"


def _column(frame: Any, name: str) -> Any:
    """One column of a pandas DataFrame or an arrow-convertible frame, as given."""
    if isinstance(frame, pd.DataFrame):
        return frame[name]
    return frame.column(name)


def _arrow(frame: Any) -> pa.Table:
    return frame if isinstance(frame, pa.Table) else to_arrow(frame)


def normalize_identifiers(
    identifiers: Any, default_region: str = "RU", *, dictionary: bool = False
) -> pa.Table:
    """Normalize raw e-mails and phones (one row per record, kind, raw value, evidence).

    Invalid values are kept with ``is_valid = False`` and no normalized value, so a report
    can count what was thrown away instead of losing it silently. The normalized value is
    personal data; ``identifier_hash`` (sha256 of ``kind:value``) and ``identifier_masked``
    are what explanations and joins outside the identity layer should use.

    Takes a pyarrow Table (or pandas / a DuckDB relation) and returns a pyarrow Table:
    columnar throughout, each distinct raw value normalized once, each distinct
    normalized value hashed and masked once
    (:func:`bitrix_omni.normalize.normalize_identifier_columns`). ``dictionary=True``
    returns ``identifier_value``, ``identifier_hash`` and ``identifier_masked`` as
    dictionary columns over the distinct values (much less memory; :func:`resolve` reads
    them without decoding).
    """
    if not isinstance(identifiers, pd.DataFrame):
        identifiers = _arrow(identifiers)
    values, hashes, masks = normalize.normalize_identifier_columns(
        normalize.as_large_strings(_column(identifiers, "identifier_kind")),
        _column(identifiers, "value_raw"),
        default_region,
        dictionary=dictionary,
    )
    memory.release_unused()  # the normalization's temporaries, before the next phase
    return pa.table(
        {
            # Passed through as given when they already are Arrow strings (no copy).
            "record_key": as_text(_column(identifiers, "record_key")),
            "identifier_kind": as_text(_column(identifiers, "identifier_kind")),
            "evidence": as_text(_column(identifiers, "evidence")),
            "identifier_value": values,
            "identifier_hash": hashes,
            "identifier_masked": masks,
            "is_valid": pc.is_valid(values),
        }
    )


def normalized_blocklist(blocklist: Any, default_region: str = "RU") -> frozenset[str]:
    """The blocklist seed's values, normalized like identifiers (users may type any format)."""
    seed = _arrow(blocklist)
    if seed.num_rows == 0:
        return frozenset()
    kinds = pc.ascii_lower(
        pc.utf8_trim_whitespace(normalize.as_large_strings(seed["identifier_kind"]))
    )
    values, _, _ = normalize.normalize_identifier_columns(
        kinds, seed["identifier_value"], default_region
    )
    return frozenset(v for v in values.to_pylist() if v is not None)


#: The columns of the dbt inputs that identity resolution and the guards read; the thin
#: models read only these (a DuckDB relation then reads no other column).
RECORD_INPUT_COLUMNS = ("record_key", "source_table", "source_id", "first_seen_at", "last_seen_at")
IDENTIFIER_INPUT_COLUMNS = (
    "record_key",
    "identifier_kind",
    "identifier_value",
    "evidence",
    "identifier_hash",
    "identifier_masked",
)
LINK_INPUT_COLUMNS = ("record_key", "other_record_key", "evidence")


def _identity_inputs(
    records: Any,
    normalized_identifiers: Any,
    links: Any,
    blocklist: frozenset[str],
    max_customers_per_identifier: int,
) -> tuple[pa.Table, pa.Table, pa.Table, IdentityConfig]:
    """The dbt inputs in the shape of :mod:`bitrix_omni.identity`, with the hashes and
    masks of the normalization so that resolution does not compute them again. Invalid
    identifiers have a null value, which resolution ignores: no filtering copy needed."""
    ids = _arrow(normalized_identifiers)
    return (
        _arrow(records).select(["record_key", "source_table", "source_id", "first_seen_at"]),
        pa.table(
            {
                "record_key": ids["record_key"],
                "kind": ids["identifier_kind"],
                "value": ids["identifier_value"],
                "evidence": ids["evidence"],
                "identifier_hash": ids["identifier_hash"],
                "identifier_masked": ids["identifier_masked"],
            }
        ),
        _arrow(links).select(["record_key", "other_record_key", "evidence"]),
        IdentityConfig(
            max_customers_per_identifier=int(max_customers_per_identifier),
            blocklist=blocklist,
        ),
    )


def resolve(
    records: Any,
    normalized_identifiers: Any,
    links: Any,
    blocklist: frozenset[str],
    max_customers_per_identifier: int,
    previous: Any = None,
    *,
    excluded_hashes: frozenset[str] = frozenset(),
    reserved_uuids: Any = None,
) -> IdentityResult:
    """Run identity resolution on the dbt inputs (valid identifiers only).

    Inputs are pyarrow Tables (pandas and DuckDB relations are converted). ``evidence``
    is not built (the dbt project derives it in SQL): the result's ``evidence`` frame is
    empty. ``excluded_hashes`` and ``reserved_uuids`` are for resolving part of the graph
    (see :class:`bitrix_omni.identity.IdentityConfig` and
    :func:`bitrix_omni.identity.resolve_identities`).
    """
    records, identifiers, links, config = _identity_inputs(
        records, normalized_identifiers, links, blocklist, max_customers_per_identifier
    )
    if excluded_hashes:
        config = IdentityConfig(
            max_customers_per_identifier=config.max_customers_per_identifier,
            blocklist=config.blocklist,
            excluded_hashes=excluded_hashes,
        )
    if previous is not None:
        previous = _arrow(previous).select(["record_key", "customer_uuid"])
    if reserved_uuids is not None:
        reserved_uuids = as_text(_column(_arrow(reserved_uuids), "customer_uuid"))
    return resolve_identities(
        records,
        identifiers,
        links,
        previous,
        config,
        with_evidence=False,
        reserved_uuids=reserved_uuids,
    )


#: Registry columns whose change makes a run rewrite a record's row: all but the key and
#: the two columns that describe the change itself.
_REGISTRY_STATE = tuple(
    c for c in REGISTRY_COLUMNS if c not in ("record_key", "previous_customer_uuid", "resolved_at")
)


def registry_frame(
    result: IdentityResult,
    records: Any,
    previous_registry: Any,
    resolved_at: datetime,
) -> pa.Table:
    """The registry rows this run writes: every record on a first run; afterwards only
    the records whose row changed (new records, a new customer_uuid, other figures) and
    the records that disappeared from Bitrix since (``is_current = False``).
    ``records`` may carry each record's ``_input_fingerprint`` (kept in the row, so that
    the next run knows which records' inputs changed; NULL without it).

    Rows are never deleted, so a uuid is never reused for someone else and history stays
    explainable; ``previous_customer_uuid`` and ``resolved_at`` of a row are the uuid
    before, and the time of, its last change. Writing only changes keeps an hourly run's
    write proportional to what changed, not to history.
    """
    current = pa.Table.from_pandas(result.identity_map, preserve_index=False)
    records = _arrow(records)
    keys = normalize.as_large_strings(current["record_key"])
    record_keys = normalize.as_large_strings(records["record_key"])
    n = current.num_rows
    if len(record_keys) == n and pc.all(pc.equal(keys, record_keys)).as_py() in (True, None):
        position = pa.array(np.arange(n))  # records come in record_key order
    else:
        found = key_positions(record_keys, keys)
        position = pa.array(found, mask=found < 0)
    stamp = utc_stamp(resolved_at)
    columns = {
        "record_key": keys,
        "source_table": normalize.as_large_strings(current["source_table"]),
        "source_id": pc.cast(current["source_id"], pa.int64()),
        "customer_uuid": normalize.as_large_strings(current["customer_uuid"]),
        "previous_customer_uuid": normalize.as_large_strings(current["previous_customer_uuid"]),
        "match_method": normalize.as_large_strings(current["match_method"]),
        "component_size": pc.cast(current["component_size"], pa.int64()),
        "is_anchor": pc.cast(current["is_anchor"], pa.bool_()),
        "is_current": pa.array(np.ones(n, dtype=bool)),
        "first_seen_at": _timestamps(records["first_seen_at"].take(position)),
        "last_seen_at": _timestamps(records["last_seen_at"].take(position)),
        "resolved_at": pa.array(np.full(n, stamp)),
        FINGERPRINT_COLUMN: (
            pc.cast(records[FINGERPRINT_COLUMN], pa.int64()).take(position)
            if FINGERPRINT_COLUMN in records.column_names
            else pa.nulls(n, pa.int64())
        ),
    }
    registry = pa.table({c: columns[c] for c in REGISTRY_COLUMNS})
    if previous_registry is None:
        return registry
    previous = _arrow(previous_registry)
    if previous.num_rows == 0:
        return registry
    previous = pa.table(
        {
            c: (
                pc.cast(previous[c], registry.schema.field(c).type)
                if c in previous.column_names
                else pa.nulls(previous.num_rows, registry.schema.field(c).type)  # older table
            )
            for c in REGISTRY_COLUMNS
        }
    )
    now_at = key_positions(keys, previous["record_key"])  # previous row -> current row
    kept = now_at >= 0
    before_rows = np.full(n, -1, dtype=np.int64)
    before_rows[now_at[kept]] = np.flatnonzero(kept)
    before = pa.array(before_rows, mask=before_rows < 0)
    changed = before_rows < 0
    for column in _REGISTRY_STATE:
        changed |= ~_same(registry[column], previous[column].take(before))
    gone = previous.filter(pa.array(~kept & bool_mask(previous["is_current"])))
    gone = gone.set_column(
        REGISTRY_COLUMNS.index("is_current"),
        "is_current",
        pa.array(np.zeros(gone.num_rows, dtype=bool)),
    ).set_column(
        REGISTRY_COLUMNS.index("resolved_at"),
        "resolved_at",
        pa.array(np.full(gone.num_rows, stamp)),
    )
    return pa.concat_tables([registry.filter(pa.array(changed)), gone])


def utc_stamp(moment: datetime) -> np.datetime64:
    """A run's time as the warehouse's naive UTC microsecond TIMESTAMP."""
    stamp = pd.Timestamp(moment)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return np.datetime64(stamp.to_datetime64(), "us")


def _same(a: pa.Array | pa.ChunkedArray, b: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Per row: equal values, or both null."""
    return bool_mask(pc.equal(a, b)) | (bool_mask(pc.is_null(a)) & bool_mask(pc.is_null(b)))


def _timestamps(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Naive microsecond timestamps (the warehouse's TIMESTAMP)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_timestamp(values.type) and values.type.tz is not None:
        values = values.cast(pa.timestamp(values.type.unit, tz="UTC")).cast(
            pa.timestamp(values.type.unit)
        )
    return values.cast(pa.timestamp("us"))


def guarded_identifiers(
    identifiers: Any,
    links: Any,
    records: Any,
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


NORMALIZED_VALUE_COLUMNS = (
    "identifier_kind",
    "value_raw",
    "identifier_value",
    "identifier_hash",
    "identifier_masked",
    "is_valid",
    "normalizer",
    "normalized_at",
)


def normalizer_fingerprint(default_region: str = "RU") -> str:
    """What a normalized value depends on besides the raw value: this package's version,
    the phonenumbers metadata and the default region. A cached value normalized under
    another fingerprint is normalized again."""
    return (
        f"bitrix-omni {__version__}; phonenumbers {phonenumbers.__version__}; "
        f"region {default_region.upper()}"
    )


def _value_pairs(frame: Any) -> pa.Table:
    """The (identifier_kind, value_raw) columns of a frame as large strings."""
    table = _arrow(frame)
    return pa.table(
        {c: normalize.as_large_strings(table[c]) for c in ("identifier_kind", "value_raw")}
    )


def normalize_new_values(
    raw_values: Any,
    cached: Any = None,
    default_region: str = "RU",
    normalized_at: datetime | None = None,
) -> pa.Table:
    """Normalize the distinct (``identifier_kind``, ``value_raw``) pairs not yet cached.

    ``raw_values``: distinct pairs; ``cached``: the pairs the cache already holds under
    the current :func:`normalizer_fingerprint` (``None`` on a first run). Returns one row
    per new pair (:data:`NORMALIZED_VALUE_COLUMNS`), invalid values with
    ``is_valid = False`` and null value, hash and mask, so the cost of a run is
    proportional to the values it has not seen. ``normalized_at`` (default: now, UTC)
    stamps the rows, so that readers can tell which values a run (re)normalized.
    """
    raw = _value_pairs(raw_values)
    if cached is not None:
        raw = kernels.rows_not_in(raw, _value_pairs(cached), ["identifier_kind", "value_raw"])
    values, hashes, masks = normalize.normalize_identifier_columns(
        raw["identifier_kind"], raw["value_raw"], default_region
    )
    fingerprint = normalizer_fingerprint(default_region)
    return pa.table(
        {
            "identifier_kind": raw["identifier_kind"],
            "value_raw": raw["value_raw"],
            "identifier_value": values,
            "identifier_hash": hashes,
            "identifier_masked": masks,
            "is_valid": pc.is_valid(values),
            "normalizer": pa.array(
                np.full(raw.num_rows, fingerprint, dtype=object), pa.large_string()
            ),
            "normalized_at": pa.array(
                np.full(raw.num_rows, utc_stamp(normalized_at or datetime.now(timezone.utc)))
            ),
        }
    )
