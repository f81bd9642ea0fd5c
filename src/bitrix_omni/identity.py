"""Identity graph: which Bitrix records are one customer, with stable customer uuids.

A 1C-Bitrix shop knows the same person under many record types: site users (``b_user``),
anonymous cart owners (``b_sale_fuser``), orders (``b_sale_order``), CRM contacts
(``b_crm_contact``) and CRM leads (``b_crm_lead``). Records are one customer when they are
connected by

* a *hard link* that Bitrix itself stores (fuser -> user, order -> user, fuser -> order via
  the basket, lead -> contact, contact -> site user), or
* a shared, already *normalized* e-mail or phone (normalization happens upstream in
  :mod:`bitrix_omni.normalize`; this module receives clean strings and never re-normalizes).

Connected components of that graph are customers. Three things make the naive version
wrong in practice, and this module exists to handle them:

1. **Placeholders.** Call centres type ``+70000000000`` or the shop's own phone into every
   order without one; a single such value would merge thousands of strangers into one
   "customer". Identifiers are therefore *guarded* before the graph is built: values on a
   blocklist (an editable seed upstream) are dropped, and so is any value shared by more
   than ``max_customers_per_identifier`` distinct *link-groups*. A link-group is a set of
   records already joined by hard links (a user with all its orders and fusers), so one
   person with 40 orders that all carry their own phone counts once, not 40 times.
2. **Stability.** Downstream marts and exports key on ``customer_uuid``; it must not change
   from run to run just because the graph was recomputed. Uuids are carried over from the
   previous run's map, merges keep the older customer's uuid, splits keep it on the part
   that holds the earliest previous holder, and every change is written to a *ledger*.
3. **Scale.** The dbt Python model calls :func:`resolve_identities` once per run on every
   record of the shop (10M+ on big installations). Everything is integer-encoded
   (record keys found by one hash join, identifiers numbered by their hash) and computed
   with numpy / scipy (``scipy.sparse.csgraph.connected_components`` on a graph of
   link-groups and identifiers); bulk string work (the join, SHA hashes) runs in an
   in-process DuckDB (:mod:`bitrix_omni.kernels`). There is no Python loop per row or
   per edge.

Personal data never leaves this module in clear: outputs carry ``identifier_hash``
(SHA-256 hex of ``f"{kind}:{value}"``, the same value as
:func:`bitrix_omni.normalize.hash_identifier` without a salt) and a display mask such as
``iv***@mail.ru`` or ``+7915***4567``.

The result is a pure function of the input *contents*: the same rows in any order give
identical outputs (all outputs are sorted, all tie-breaks are on values, not positions).

Known limits (by design, documented in tests):

* The cap counts link-groups, so a household phone shared by two people (below the cap)
  does merge them. Lowering the cap to 1 would split genuine multi-account customers
  instead; the guard trades these errors off and reports what it dropped in ``guarded``.
* The guard is evaluated on link-groups before identifier merges, so an identifier over
  the cap is dropped even if other identifiers would merge its holders anyway.
* ``first_seen_at`` is compared at microsecond precision (Bitrix stores seconds).
"""

from __future__ import annotations

import binascii
import logging
import math
import time
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from bitrix_omni import kernels, memory, normalize
from bitrix_omni.arrow import as_large_strings, as_text, bool_mask

__all__ = [
    "CUSTOMER_UUID_NAMESPACE",
    "EVIDENCE_COLUMNS",
    "GUARDED_COLUMNS",
    "HEALTH_COLUMNS",
    "LEDGER_COLUMNS",
    "MAP_COLUMNS",
    "IdentityConfig",
    "IdentityResult",
    "checked_cap",
    "guard_identifiers",
    "key_positions",
    "resolve_identities",
]

_log = logging.getLogger(__name__)
_PANDAS_MAJOR = int(pd.__version__.split(".")[0])

#: Namespace of the uuid5 customer ids: ``uuid5(NAMESPACE_URL,
#: "https://bitrix-omni.invalid/customer")``. It is fixed forever: changing it would give
#: every customer born from a full rebuild a new uuid. A deployment that wants uuids that
#: cannot be correlated with another shop's may pass its own namespace in
#: :class:`IdentityConfig` (and must then keep it).
CUSTOMER_UUID_NAMESPACE = uuid.UUID("c48b2891-e6d3-5c77-ada5-7c344385332c")

IDENTIFIER_KINDS = ("email", "phone")
EDGE_KINDS = ("email", "link", "phone")  # sorted: evidence is ordered by edge_kind
STATUSES = ("blocklisted", "dangling", "over_shared", "used")  # sorted likewise

_EDGE_EMAIL, _EDGE_LINK, _EDGE_PHONE = 0, 1, 2
_ST_BLOCKLISTED, _ST_DANGLING, _ST_OVER_SHARED, _ST_USED = 0, 1, 2, 3
_BIT_EMAIL, _BIT_LINK, _BIT_PHONE = 1, 2, 4
_INT64_MAX = np.iinfo(np.int64).max
# Record positions and identifier numbers: int32 halves the memory of the per-row arrays
# (2^31 records is far beyond any shop).
_POS = np.int32
# Vectorized rounds of the uuid matching before the rest is finished in plain Python
# (only reached on adversarial chains of merges and splits, see _match_previous).
_MATCH_ROUNDS = 16

RECORD_COLUMNS = ("record_key", "source_table", "source_id", "first_seen_at")
IDENTIFIER_COLUMNS = ("record_key", "kind", "value", "evidence")
#: Optional identifier columns: when present they must hold :func:`normalize.hash_identifier`
#: of (kind, value) and its mask (as :func:`normalize.normalize_identifier_columns`
#: returns them); each distinct identifier is then not hashed or masked again.
PRECOMPUTED_IDENTIFIER_COLUMNS = ("identifier_hash", "identifier_masked")
LINK_COLUMNS = ("record_key", "other_record_key", "evidence")
PREVIOUS_COLUMNS = ("record_key", "customer_uuid")

MAP_COLUMNS = (
    "record_key",
    "source_table",
    "source_id",
    "customer_uuid",
    "match_method",
    "component_size",
    "is_anchor",
    "previous_customer_uuid",
)
EVIDENCE_COLUMNS = (
    "record_key",
    "customer_uuid",
    "edge_kind",
    "evidence",
    "identifier_hash",
    "identifier_masked",
    "status",
)
GUARDED_COLUMNS = (
    "kind",
    "identifier_hash",
    "identifier_masked",
    "reason",
    "distinct_groups",
    "records",
)
LEDGER_COLUMNS = (
    "event",
    "from_customer_uuid",
    "to_customer_uuid",
    "records_moved",
    "anchor_record_key",
)
HEALTH_COLUMNS = (
    "records",
    "customers",
    "singletons",
    "largest_customer_records",
    "largest_customer_share",
    "identifiers_used",
    "identifiers_blocklisted",
    "identifiers_over_shared",
    "dangling_links",
    "dangling_identifier_rows",
    "merges",
    "splits",
    "mean_records_per_customer",
)


def checked_cap(cap: object) -> int:
    """``max_customers_per_identifier`` as an int; ValueError unless an int >= 1."""
    if isinstance(cap, bool) or not isinstance(cap, (int, np.integer)) or cap < 1:
        raise ValueError(f"max_customers_per_identifier must be an int >= 1, got {cap!r}")
    return int(cap)


@dataclass(frozen=True)
class IdentityConfig:
    """Knobs of the identity resolution.

    ``max_customers_per_identifier``: an e-mail or phone shared by more than this many
    distinct link-groups is treated as a placeholder (a call-centre default, the shop's own
    number) and not used to merge anybody. Link-groups, not records, are counted, so a
    customer with many orders carrying their own phone is never capped.

    ``blocklist``: normalized values never used as identifiers, whatever their kind (the
    dbt seed of known junk values is passed here).

    ``uuid_namespace``: namespace of the uuid5 ids minted for new customers; see
    :data:`CUSTOMER_UUID_NAMESPACE`.

    ``excluded_hashes``: identifier hashes (hex sha256 of ``kind:value``, as
    ``identifier_hash``) that the guards excluded on a larger graph than the one resolved
    here; they count as over-shared whatever the records at hand show. Resolving part of
    the graph (the components a change touched) passes the whole graph's verdicts here,
    since an identifier's other holders may lie outside the part.
    """

    max_customers_per_identifier: int = 5
    blocklist: frozenset[str] = frozenset()
    uuid_namespace: uuid.UUID = CUSTOMER_UUID_NAMESPACE
    excluded_hashes: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        checked_cap(self.max_customers_per_identifier)
        if isinstance(self.blocklist, str):
            raise TypeError("blocklist must be a collection of strings, not one string")
        if not isinstance(self.blocklist, frozenset):
            # Accept any iterable (a list from a seed); keep the dataclass hashable.
            object.__setattr__(self, "blocklist", frozenset(self.blocklist))
        if not all(isinstance(v, str) for v in self.blocklist):
            raise TypeError("blocklist values must be strings")
        if not isinstance(self.uuid_namespace, uuid.UUID):
            raise TypeError("uuid_namespace must be a uuid.UUID")
        if isinstance(self.excluded_hashes, str):
            raise TypeError("excluded_hashes must be a collection of strings, not one string")
        if not isinstance(self.excluded_hashes, frozenset):
            object.__setattr__(self, "excluded_hashes", frozenset(self.excluded_hashes))


@dataclass(frozen=True)
class IdentityResult:
    """Outputs of :func:`resolve_identities` (all plain pandas DataFrames).

    ``identity_map``: one row per input record, sorted by ``record_key``: ``record_key``,
    ``source_table``, ``source_id``, ``customer_uuid``, ``match_method`` (``'singleton'``
    or the ``+``-joined sorted kinds of this record's own *connecting* edges: ``email``,
    ``link``, ``phone``), ``component_size``, ``is_anchor``, ``previous_customer_uuid``.

    ``evidence``: one row per distinct (record, identifier, evidence) and per distinct
    link (on the link's ``record_key`` side; a dangling link on its known side), sorted by
    ``record_key, edge_kind, status, identifier_hash, evidence``. For links
    ``identifier_hash`` is the other record_key and ``identifier_masked`` is null.

    ``guarded``: identifiers dropped by the guards (``reason`` ``'blocklisted'`` or
    ``'over_shared'``), with ``distinct_groups`` and ``records`` counts.

    ``ledger``: uuid ``'merge'`` / ``'split'`` events versus the previous run.

    ``health``: one row of graph-health figures (see :data:`HEALTH_COLUMNS`).
    """

    identity_map: pd.DataFrame
    evidence: pd.DataFrame
    guarded: pd.DataFrame
    ledger: pd.DataFrame
    health: pd.DataFrame


# ======================================================================================
# Private helpers: uuids, hex
# ======================================================================================

_UUID_HEX_POSITIONS = np.array([i for i in range(36) if i not in (8, 13, 18, 23)], dtype=np.intp)
_ROW_BLOCK = 1 << 20  # rows per block when gathering bytes (bounds temporary memory)


def _fixed_width_strings(chars: np.ndarray | bytes, width: int) -> pa.LargeStringArray:
    """Arrow strings from ``n * width`` ASCII bytes (a ``(n, width)`` array or a buffer)."""
    data = chars if isinstance(chars, bytes) else np.ascontiguousarray(chars).tobytes()
    n = len(data) // width if width else 0
    offsets = np.arange(n + 1, dtype=np.int64) * width
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def _uuid5_strings(namespace: uuid.UUID, names: pa.Array) -> pa.LargeStringArray:
    """``str(uuid.uuid5(namespace, name))`` for the strings of ``names``.

    Same bytes as :func:`uuid.uuid5` (SHA-1 of namespace + name, version 5, RFC 4122
    variant): the SHA-1s computed in bulk (:func:`kernels.digests`), formatted with numpy
    instead of a ``uuid.UUID`` object per name.
    """
    n = len(names)
    raw = np.ascontiguousarray(kernels.digests(names, "sha1", namespace.bytes)[:, :16])
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x50
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    out[:, _UUID_HEX_POSITIONS] = np.frombuffer(binascii.hexlify(raw.tobytes()), np.uint8).reshape(
        n, 32
    )
    return _fixed_width_strings(out, 36)


def _ls(value: str) -> pa.Scalar:
    return pa.scalar(value, pa.large_string())


def _string_buffers(values: pa.LargeStringArray) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, data) of a large_string array as numpy views."""
    n = len(values)
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int64)[
        values.offset : values.offset + n + 1
    ]
    data_buf = values.buffers()[2]
    data = (
        np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    )
    return offsets, data


# ======================================================================================
# Private helpers: input handling
# ======================================================================================


class _Frame:
    """Uniform column access to a pandas DataFrame, a pyarrow Table or ``None`` (empty)."""

    def __init__(self, obj: Any, name: str, required: Sequence[str]) -> None:
        self.name = name
        if obj is None:
            self._table: pa.Table | None = None
            self._frame: pd.DataFrame | None = None
            self.num_rows = 0
            self.columns: frozenset[str] = frozenset()
            return
        if isinstance(obj, pa.RecordBatch):
            obj = pa.Table.from_batches([obj])
        if isinstance(obj, pa.Table):
            self._table, self._frame, self.num_rows = obj, None, obj.num_rows
            columns = set(obj.column_names)
        elif isinstance(obj, pd.DataFrame):
            self._table, self._frame, self.num_rows = None, obj, len(obj)
            columns = {str(c) for c in obj.columns}
        else:
            raise TypeError(f"{name} must be a pandas DataFrame or a pyarrow Table")
        self.columns = frozenset(columns)
        missing = [c for c in required if c not in columns]
        if missing and self.num_rows:
            raise ValueError(f"{name} is missing required column(s): {', '.join(missing)}")
        self._missing = set(missing)

    def column(self, col: str) -> pa.Array:
        """One column as an arrow array (all-null if absent from an empty input)."""
        if self.num_rows == 0 or col in self._missing:
            return pa.nulls(self.num_rows, pa.large_string())
        if self._table is not None:
            raw = self._table.column(col)
            return raw.combine_chunks() if raw.num_chunks != 1 else raw.chunk(0)
        series = self._frame[col]  # type: ignore[index]
        try:
            arr = pa.array(series, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # Mixed Python objects (e.g. ints and strings in one object column).
            arr = pa.array(
                [None if v is None or v is pd.NA or v != v else str(v) for v in series],
                pa.large_string(),
            )
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        return arr

    def strings(self, col: str) -> pa.LargeStringArray:
        return as_large_strings(self.column(col))

    def text(self, col: str) -> pa.StringArray | pa.LargeStringArray:
        """Like :meth:`strings`, but a ``string`` column stays ``string``: no copy of a
        column that is only compared or encoded, never indexed by its buffers."""
        return as_text(self.column(col))


def _timestamp_keys(arr: pa.Array) -> np.ndarray:
    """int64 microseconds for ordering (UTC for tz-aware input), nulls as +inf."""
    n = len(arr)
    t = arr.type
    if pa.types.is_null(t) or arr.null_count == n:
        return np.full(n, _INT64_MAX, dtype=np.int64)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        # ISO strings (e.g. from a CSV seed); naive ones are taken as UTC.
        arr = pa.array(pd.to_datetime(arr.to_pandas(), utc=True, format="ISO8601"))
        t = arr.type
    if pa.types.is_date(t):
        arr = arr.cast(pa.timestamp("s"))
        t = arr.type
    if not pa.types.is_timestamp(t):
        raise TypeError(f"records.first_seen_at must be a timestamp column, got {t}")
    us = arr.cast(pa.timestamp("us", tz=t.tz), safe=False).cast(pa.int64())
    return np.asarray(pc.fill_null(us, _INT64_MAX).to_numpy(zero_copy_only=False), dtype=np.int64)


def _indices(arr: pa.DictionaryArray | pa.Array) -> np.ndarray:
    """Dictionary indices as int32 with nulls as -1."""
    idx = arr.indices if isinstance(arr, pa.DictionaryArray) else arr
    return np.asarray(pc.fill_null(idx, -1).to_numpy(zero_copy_only=False), dtype=np.int32)


def _encode_together(
    arrays: Sequence[pa.StringArray | pa.LargeStringArray],
) -> tuple[list[np.ndarray], pa.LargeStringArray]:
    """Dictionary-encode several string arrays with one shared dictionary (nulls -1).

    Codes are assigned in order of first appearance over the arrays taken one after the
    other, as if they were concatenated; the arrays are never concatenated (no copy).
    """
    dictionary = pa.array([], pa.large_string())
    out = []
    for arr in arrays:
        if len(arr) == 0:
            out.append(np.empty(0, dtype=np.int32))
            continue
        # Each array on its own (any string type, no concatenated copy); its distinct
        # values not seen in the earlier arrays are appended, in its order of first
        # appearance: the codes of encoding the concatenation.
        encoded = pc.dictionary_encode(arr)
        local = as_large_strings(encoded.dictionary)
        found = _indices(pc.index_in(local, value_set=dictionary)).copy()
        new = found < 0
        found[new] = len(dictionary) + np.arange(np.count_nonzero(new), dtype=np.int32)
        if new.any():
            dictionary = pa.concat_arrays([dictionary, _take(local, np.flatnonzero(new))])
        codes = _indices(encoded)
        present = codes >= 0
        mapped = np.full(codes.size, -1, dtype=np.int32)
        mapped[present] = found[codes[present]]
        out.append(mapped)
    return out, as_large_strings(dictionary)


def _first_appearances(codes: np.ndarray) -> np.ndarray:
    """Row of each code's first appearance, for codes numbered in order of first
    appearance (``pd.factorize(..., sort=False)``): a row holds its code's first
    appearance exactly when the code exceeds every code before it."""
    before = np.maximum.accumulate(np.concatenate(([-1], codes[:-1])))
    return np.flatnonzero(codes > before)


class _FirstRows:
    """The dictionary of a factorized column, kept as "the string at the first row of each
    code" and taken only when needed (most runs never look at it)."""

    def __init__(self, strings: Sequence[pa.LargeStringArray], codes: np.ndarray) -> None:
        self._strings = pa.chunked_array(strings, type=pa.large_string())
        self.rows = _first_appearances(codes)

    def __len__(self) -> int:
        return int(self.rows.size)

    def take(self, indices: pa.Array) -> pa.LargeStringArray:
        idx = np.asarray(pc.fill_null(indices, -1).to_numpy(zero_copy_only=False), np.int64)
        rows = np.where(idx >= 0, self.rows[np.maximum(idx, 0)], 0)
        taken = self._strings.take(pa.array(rows, mask=idx < 0))
        return as_large_strings(taken)


class _KeyDictionary:
    """Strings of record key codes: codes below ``len(records)`` are record rows, the
    others number the distinct keys that are not records (taken only when needed: error
    messages, dangling links)."""

    def __init__(
        self, records: pa.StringArray | pa.LargeStringArray, unknown: pa.LargeStringArray
    ) -> None:
        self._strings = pa.chunked_array([records, unknown.cast(records.type)])

    def __len__(self) -> int:
        return len(self._strings)

    def take(self, indices: pa.Array) -> pa.LargeStringArray:
        return as_large_strings(self._strings.take(indices))


def _one_string_type(arrays: Sequence[pa.Array]) -> pa.ChunkedArray:
    """The arrays as one chunked column, cast only if their string types differ."""
    if not arrays:
        return pa.chunked_array([], pa.large_string())
    kinds = {a.type for a in arrays}
    target = kinds.pop() if len(kinds) == 1 else pa.large_string()
    return pa.chunked_array([a if a.type == target else pc.cast(a, target) for a in arrays])


def _record_rows(
    rec_keys: pa.StringArray | pa.LargeStringArray,
    others: Sequence[pa.StringArray | pa.LargeStringArray],
) -> tuple[list[np.ndarray], _KeyDictionary]:
    """Per column of ``others``: each key's row in ``rec_keys``; a key that is not a
    record gets ``len(rec_keys)`` + the number of its distinct value (in order of first
    appearance), a null -1. ``rec_keys`` must be unique (see :func:`_check_unique_keys`)."""
    n = len(rec_keys)
    lookup = _one_string_type([a for a in others if len(a)])
    codes = kernels.joined_rows(rec_keys, lookup)
    if codes.dtype == np.int32 and n + len(lookup) >= 2**31 - 1:
        codes = codes.astype(np.int64)  # room for the numbers of unknown keys
    unknown_rows = np.flatnonzero(codes < 0)
    if lookup.null_count and unknown_rows.size:
        unknown_rows = unknown_rows[bool_mask(pc.is_valid(lookup.take(pa.array(unknown_rows))))]
    unknown = pa.array([], pa.large_string())
    if unknown_rows.size:
        encoded = lookup.take(pa.array(unknown_rows)).dictionary_encode().combine_chunks()
        codes[unknown_rows] = n + _indices(encoded)
        unknown = as_large_strings(encoded.dictionary)
    bounds = np.cumsum([0, *(len(a) for a in others)])
    out = [codes[bounds[i] : bounds[i + 1]] for i in range(len(others))]
    return out, _KeyDictionary(rec_keys, unknown)


def _check_unique_keys(keys: pa.StringArray | pa.LargeStringArray, what: str) -> np.ndarray:
    """Rows of ``keys`` in byte order (no sort when they already are); raise ValueError
    naming a few keys that occur more than once."""
    n = len(keys)
    if n < 2 or pc.all(pc.less(keys.slice(0, n - 1), keys.slice(1))).as_py():
        return np.arange(n, dtype=np.int64)
    order = np.asarray(pc.sort_indices(keys).to_numpy(zero_copy_only=False), dtype=np.int64)
    ordered = _take(keys, order)
    same = bool_mask(pc.equal(ordered.slice(0, n - 1), ordered.slice(1)))
    if same.any():
        dups = pc.unique(ordered.slice(1).filter(pa.array(same)))
        examples = ", ".join(repr(k) for k in dups[:5].to_pylist())
        raise ValueError(
            f"{what} must be unique: {len(dups)} key(s) occur more than once, e.g. {examples}"
        )
    return order


def key_positions(keys: Any, lookup: Any) -> np.ndarray:
    """Position of each ``lookup`` record key in ``keys`` (unique, no nulls), -1 where the
    key is absent or null, found the way resolution maps keys to records (one hash join).
    Raises ``ValueError`` for duplicate or null ``keys``."""
    keys, lookup = normalize.as_large_strings(keys), normalize.as_large_strings(lookup)
    if keys.null_count:
        raise ValueError(f"keys has {keys.null_count} null value(s)")
    _check_unique_keys(keys, "keys")
    return kernels.joined_rows(keys, pa.chunked_array([lookup], type=pa.large_string()))


def _digest_codes(digests: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Factorize ``(n, k)`` digests (k >= 16) by their first 8 bytes: (codes, first row of
    each code), or ``None`` on a prefix collision between different digests."""
    prefix = np.ascontiguousarray(digests[:, :8]).view(np.int64).ravel()
    codes, _ = pd.factorize(prefix, sort=False)
    del prefix
    first = _first_appearances(codes)
    # Rows sharing a prefix must share the digest: checked on the next 8 bytes, which
    # for sha256 or uuid bytes makes an undetected collision a 2^-128 event.
    check = np.ascontiguousarray(digests[:, 8:16]).view(np.int64).ravel()
    if not np.array_equal(check, check[first][codes]):
        return None
    return codes.astype(np.int64, copy=False), first


def _fixed_width_bytes(values: pa.LargeStringArray, width: int) -> np.ndarray | None:
    """The bytes of strings that are all exactly ``width`` long as ``(n, width)``."""
    if values.null_count:
        return None
    offsets, data = _string_buffers(values)
    if not np.array_equal(np.diff(offsets), np.full(len(values), width)):
        return None
    return data[offsets[0] : offsets[-1]].reshape(len(values), width)


def _encode_uuids(
    uuids: pa.LargeStringArray,
) -> tuple[np.ndarray, pa.LargeStringArray | _FirstRows]:
    """:func:`_encode_together` of one uuid column, through their 16 bytes when all are
    canonical (36-character) uuid strings."""
    chars = _fixed_width_bytes(uuids, 36) if len(uuids) else None
    if chars is not None:
        hex_chars = np.ascontiguousarray(chars[:, _UUID_HEX_POSITIONS]).tobytes()
        try:
            raw = np.frombuffer(binascii.unhexlify(hex_chars), np.uint8).reshape(-1, 16)
        except (binascii.Error, ValueError):
            raw = None
        found = _digest_codes(raw) if raw is not None else None
        if found is not None:
            codes, _ = found
            return codes, _FirstRows([uuids], codes)
    (codes,), dictionary = _encode_together([uuids])
    return codes, dictionary


def _sorted_rank(strings: pa.Array) -> np.ndarray:
    """Rank of each string in byte order (nulls last); small arrays only."""
    order = np.asarray(
        pc.array_sort_indices(strings, null_placement="at_end").to_numpy(zero_copy_only=False),
        dtype=np.int64,
    )
    rank = np.empty(len(strings), dtype=np.int64)
    rank[order] = np.arange(len(strings))
    return rank


class _AgeKeys:
    """Per record an int64 ordered like (``first_seen_at`` nulls last, position): distinct
    keys, so ties go to the record_key order.

    When it fits in 63 bits the key *is* the timestamp (offset from the earliest, in the
    coarsest unit all of them share: seconds, milliseconds or microseconds) above the
    position bits, which saves sorting the records by age; otherwise it is the rank
    of a stable sort.
    """

    def __init__(self, ts: np.ndarray) -> None:
        n = ts.size
        self._bits = max(int(n - 1).bit_length(), 1)
        self._order: np.ndarray | None = None
        present = ts != _INT64_MAX
        offsets = np.zeros(n, dtype=np.int64)
        if present.any():
            seen = ts[present]
            seen = seen - seen.min()
            unit = next(u for u in (1_000_000, 1_000, 1) if not np.any(seen % u))
            seen //= unit
            offsets[present] = seen
            offsets[~present] = int(seen.max()) + 1  # nulls last
        if int(offsets.max(initial=0)) < 2 ** (62 - self._bits):
            self.keys = (offsets << self._bits) | np.arange(n, dtype=np.int64)
        else:
            self._order = np.argsort(ts, kind="stable")  # ties keep position order
            self.keys = np.empty(n, dtype=np.int64)
            self.keys[self._order] = np.arange(n)

    def positions(self, keys: np.ndarray) -> np.ndarray:
        """The record position of each key."""
        if self._order is not None:
            return self._order[keys]
        return keys & ((1 << self._bits) - 1)


def _group_min(groups: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    out = np.full(n_groups, _INT64_MAX, dtype=np.int64)
    np.minimum.at(out, groups, values)
    return out


def _fits(*bases: int) -> bool:
    """Whether a mixed-radix key over these bases fits in int64 (with room to spare)."""
    return math.prod(max(int(b), 1) for b in bases) < 2**62


def _components(n: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Connected-component label of each of ``n`` nodes for undirected edges rows-cols."""
    if rows.size == 0:
        return np.arange(n, dtype=np.int64)
    graph = sparse.coo_matrix(
        (np.ones(rows.size, dtype=np.int8), (rows, cols)), shape=(n, n)
    ).tocsr()
    _, labels = connected_components(graph, directed=True, connection="weak")
    return labels.astype(np.int64, copy=False)


def _dense_labels(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """Relabel to ``0..k-1`` in order of first appearance (content-defined order)."""
    codes, uniques = pd.factorize(labels, sort=False)
    return codes.astype(np.int64, copy=False), len(uniques)


# ======================================================================================
# uuid matching
# ======================================================================================


def _match_previous(
    pair_comp: np.ndarray,
    pair_uuid: np.ndarray,
    pair_priority: np.ndarray,
    n_comp: int,
    n_uuid: int,
) -> np.ndarray:
    """Give each component at most one previous uuid and each uuid at most one component.

    This is the greedy matching in increasing ``pair_priority`` (the age key of the
    earliest record of the component that held the uuid). Greedy order implements the
    rules directly: a merged component keeps the uuid of its earliest previous holder
    (the older customer), and a split uuid stays with the component that holds its
    earliest previous holder. Priorities are distinct per record, so the result is
    unique and independent of row order.

    Greedy is inherently sequential, so it is computed in rounds of *locally dominant*
    pairs (minimal for both their component and their uuid): such a pair is always taken
    by greedy, and with distinct priorities repeating the step yields exactly the greedy
    matching. Almost all pairs are trivial (one uuid, one component) and go in round one;
    after a few rounds any remainder (a long chain of merges and splits) is finished in
    Python, which is then per merge/split event, not per record.
    """
    assigned = np.full(n_comp, -1, dtype=np.int64)
    taken = np.zeros(n_uuid, dtype=bool)
    active = np.arange(pair_comp.size)
    for _ in range(_MATCH_ROUNDS):
        if active.size == 0:
            break
        comp, uid, prio = pair_comp[active], pair_uuid[active], pair_priority[active]
        min_comp = _group_min(comp, prio, n_comp)
        min_uuid = _group_min(uid, prio, n_uuid)
        win = (prio == min_comp[comp]) & (prio == min_uuid[uid])
        assigned[comp[win]] = uid[win]
        taken[uid[win]] = True
        active = active[(assigned[comp] < 0) & ~taken[uid]]
    if active.size:
        for i in active[np.argsort(pair_priority[active], kind="stable")].tolist():
            c, u = int(pair_comp[i]), int(pair_uuid[i])
            if assigned[c] < 0 and not taken[u]:
                assigned[c] = u
                taken[u] = True
    return assigned


def _new_uuids(
    namespace: uuid.UUID, anchor_keys: pa.LargeStringArray, reserved: pa.Array
) -> pa.LargeStringArray:
    """uuid5(namespace, anchor record_key) per new customer, avoiding reserved uuids.

    ``reserved`` are the previous uuids still held by current records. A uuid5 can only
    coincide with one of them when the anchor itself was once the anchor of a customer
    that now lives on elsewhere (e.g. after a split); then ``anchor + ':split'`` (then
    ``':split:2'``, ...) is used instead, deterministically.
    """
    if len(anchor_keys) == 0:
        return pa.array([], pa.large_string())
    anchor_keys = as_large_strings(anchor_keys)  # the suffixes below are large strings
    fresh = _uuid5_strings(namespace, anchor_keys)
    if len(reserved) == 0:
        return fresh
    clash = np.nonzero(bool_mask(pc.is_in(fresh, value_set=reserved)))[0]
    if clash.size == 0:
        return fresh
    taken = pa.concat_arrays([as_large_strings(reserved), fresh])
    replaced: list[pa.Array] = []
    positions: list[np.ndarray] = []
    attempt = 1
    while clash.size:  # per collision (rare), a vectorized round per suffix
        suffix = ":split" if attempt == 1 else f":split:{attempt}"
        names = pc.binary_join_element_wise(_take(anchor_keys, clash), _ls(suffix), _ls(""))
        candidates = _uuid5_strings(namespace, names)
        again = bool_mask(pc.is_in(candidates, value_set=taken))
        # Equal anchors cannot occur (one anchor per customer), so candidates are distinct.
        replaced.append(candidates.filter(pa.array(~again)))
        positions.append(clash[~again])
        taken = pa.concat_arrays([taken, replaced[-1]])
        clash = clash[again]
        attempt += 1
    slot = np.arange(len(fresh), dtype=np.int64)
    moved = np.concatenate(positions)
    slot[moved] = len(fresh) + np.arange(moved.size)
    return _take(pa.concat_arrays([fresh, *replaced]), slot)


# ======================================================================================
# Guards
# ======================================================================================


def _record_identifier_pairs(
    row_pos: np.ndarray, row_h: np.ndarray, n: int, m: int
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (record position, identifier number) pairs, sorted."""
    if _fits(n, m):
        key = _unique_sorted(row_pos.astype(np.int64) * max(m, 1) + row_h)
        return key // max(m, 1), key % max(m, 1)
    pos, h = _sort_unique([(row_pos, max(n, 1)), (row_h, max(m, 1))])
    return pos, h


@dataclass
class _Guard:
    """Per identifier: guard status, distinct link-groups, records, and whether any known
    record holds it."""

    status: np.ndarray
    distinct_groups: np.ndarray
    records: np.ndarray
    present: np.ndarray


def _link_groups(n: int, la: np.ndarray, lb: np.ndarray) -> tuple[np.ndarray, int]:
    """Link-group (component of the hard links ``la``-``lb``) of each of ``n`` records,
    numbered ``0..k-1``, and ``k``."""
    groups = _components(n, la, lb)
    return groups, int(groups.max()) + 1 if n else 0


def _guard(
    groups: np.ndarray,
    n_groups: int,
    fi_pos: np.ndarray,
    fi_h: np.ndarray,
    blocked: np.ndarray,
    cap: int,
    excluded: np.ndarray | None = None,
) -> _Guard:
    """Blocklist, then the cap on distinct link-groups (``groups`` per record, see
    :func:`_link_groups`) per identifier, from the distinct (record, identifier) pairs
    ``fi_pos``, ``fi_h``; ``excluded`` identifiers are over-shared regardless (see
    ``IdentityConfig.excluded_hashes``)."""
    m = blocked.size
    ident_records = np.bincount(fi_h, minlength=m).astype(np.int64)
    present = ident_records > 0  # identifiers only on unknown records do not exist here
    blocked = blocked & present
    # Only identifiers on more than `cap` records can touch more than `cap` groups.
    candidate = blocked | (ident_records > cap)
    distinct_groups = ident_records.copy()
    if n_groups < groups.size and candidate.any():
        sel = candidate[fi_h]
        pair = _unique_sorted(fi_h[sel].astype(np.int64) * n_groups + groups[fi_pos[sel]])
        counted = np.bincount(pair // n_groups, minlength=m)
        distinct_groups[candidate] = counted[candidate]
    status = np.full(m, _ST_USED, dtype=np.int8)
    status[candidate & (distinct_groups > cap)] = _ST_OVER_SHARED
    if excluded is not None:
        status[excluded & present] = _ST_OVER_SHARED
    status[blocked] = _ST_BLOCKLISTED
    return _Guard(status, distinct_groups, ident_records, present)


def _guarded_frame(
    kinds: np.ndarray,
    digests: np.ndarray,
    masks: pa.Array,
    status: np.ndarray,
    distinct_groups: np.ndarray,
    records: np.ndarray,
) -> pd.DataFrame:
    """The ``guarded`` output: by reason, then the most shared first, then hash."""
    words = np.ascontiguousarray(digests).view(">u8").reshape(-1, 4)
    order = np.lexsort([words[:, j] for j in (3, 2, 1, 0)] + [-distinct_groups, status])
    return _to_pandas(
        {
            "kind": _take(_strings_of(IDENTIFIER_KINDS), kinds[order]),
            "identifier_hash": _hex_strings(digests[order]),
            "identifier_masked": _take(masks, order),
            "reason": _take(_strings_of(STATUSES), status[order]),
            "distinct_groups": distinct_groups[order],
            "records": records[order],
        }
    )


def guard_identifiers(
    records: pd.DataFrame | pa.Table,
    identifiers: pd.DataFrame | pa.Table | None,
    links: pd.DataFrame | pa.Table | None,
    config: IdentityConfig | None = None,
) -> pd.DataFrame:
    """The identifiers the over-merge guards keep out of the graph, without resolving.

    Inputs and config as in :func:`resolve_identities` (whose step 1 this is); returns
    exactly its ``guarded`` frame (:data:`GUARDED_COLUMNS`): identifiers that are
    ``'blocklisted'`` or ``'over_shared'`` (more than ``max_customers_per_identifier``
    distinct link-groups, i.e. components of the hard links), with ``distinct_groups``
    and ``records`` counts. Only the link components and per-identifier counts are
    computed, and only the guarded identifiers are hashed and masked, so this is much
    cheaper than a full resolution.
    """
    cfg = config if config is not None else IdentityConfig()
    rec = _Frame(records, "records", RECORD_COLUMNS)
    ids = _Frame(identifiers, "identifiers", IDENTIFIER_COLUMNS)
    lnk = _Frame(links, "links", LINK_COLUMNS)
    n = rec.num_rows
    rec_keys = rec.text("record_key")
    if rec_keys.null_count:
        raise ValueError(f"records.record_key has {rec_keys.null_count} null value(s)")
    _check_unique_keys(rec_keys, "records.record_key")
    lookup = _one_string_type(
        [ids.text("record_key"), lnk.text("record_key"), lnk.text("other_record_key")]
    )
    rows = kernels.joined_rows(rec_keys, lookup)
    del lookup
    # Record rows stand in for positions: the guard does not depend on record order.
    bounds = np.cumsum([0, ids.num_rows, lnk.num_rows, lnk.num_rows])
    id_row, a_row, b_row = (rows[bounds[i] : bounds[i + 1]] for i in range(3))
    del rows
    enc = _encode_identifiers(ids)
    m = enc.kind.size
    keep_rows = id_row[enc.usable] >= 0
    fi_pos, fi_h = _record_identifier_pairs(
        id_row[enc.usable][keep_rows], enc.pair_idx[keep_rows], n, m
    )
    used = (a_row >= 0) & (b_row >= 0) & (a_row != b_row)
    groups, n_groups = _link_groups(n, a_row[used], b_row[used])
    guard = _guard(
        groups,
        n_groups,
        fi_pos,
        fi_h,
        _blocked(enc.values, cfg.blocklist),
        int(cfg.max_customers_per_identifier),
    )
    g = np.nonzero((guard.status != _ST_USED) & guard.present)[0]
    kind_names = _strings_of(IDENTIFIER_KINDS)
    g_kinds = _take(kind_names, enc.kind[g])
    g_values = _take(enc.values, g)
    return _guarded_frame(
        enc.kind[g],
        normalize.identifier_digests(g_kinds, g_values).reshape(-1, 32),
        normalize.mask_identifiers(g_kinds, g_values),
        guard.status[g],
        guard.distinct_groups[g],
        guard.records[g],
    )


# ======================================================================================
# Main entry point
# ======================================================================================


def _to_pandas(columns: dict[str, pa.Array | np.ndarray]) -> pd.DataFrame:
    """Arrow/numpy columns to a pandas DataFrame with plain dtypes.

    Strings become pyarrow-backed pandas strings without a Python object per row: the
    default ``str`` dtype on pandas 3, ``string[pyarrow]`` on pandas 2 (whose default,
    ``object``, would cost ~60 bytes and an allocation per value).
    """
    arrays = {
        k: (v if isinstance(v, (pa.Array, pa.ChunkedArray)) else pa.array(v))
        for k, v in columns.items()
    }
    table = pa.table(arrays)
    if _PANDAS_MAJOR >= 3:
        return table.to_pandas()
    return table.to_pandas(types_mapper={pa.large_string(): pd.StringDtype("pyarrow")}.get)


def _null_strings(n: int = 0) -> pa.LargeStringArray:
    return pa.nulls(n, pa.large_string())


def _take(arr: pa.Array, idx: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    return arr.take(pa.array(idx, type=pa.int64(), mask=mask))


def _unique_sorted(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values; a sort plus a mask (numpy 2's hash-based ``np.unique`` is
    several times slower on large int64 arrays)."""
    out = np.sort(values)
    if out.size > 1:
        out = out[np.concatenate(([True], out[1:] != out[:-1]))]
    return out


def _compact(values: np.ndarray, bound: int) -> np.ndarray:
    """The smallest of int8/int32/int64 that holds ``0 <= values < bound``."""
    for dtype in (np.int8, np.int32):
        if bound <= np.iinfo(dtype).max:
            return values.astype(dtype)
    return values.astype(np.int64, copy=False)


def _sort_unique(columns: Sequence[tuple[np.ndarray, int]]) -> list[np.ndarray]:
    """Sort rows of parallel non-negative int columns lexicographically and drop duplicates.

    ``columns`` are (values, base) with ``0 <= values < base``, most significant first.
    When the mixed-radix key fits in int64 this is one sort of one int64 key; otherwise
    an ``np.lexsort`` over the columns.
    """
    if _fits(*(base for _, base in columns)):
        key = columns[0][0].astype(np.int64, copy=True)
        for values, base in columns[1:]:
            key *= base
            key += values
        key = _unique_sorted(key)
        out: list[np.ndarray] = []
        for _, base in reversed(columns[1:]):
            out.append(_compact(key % base, base))
            key //= base
        out.append(_compact(key, columns[0][1]))
        return out[::-1]
    order = np.lexsort([values for values, _ in reversed(columns)])
    cols = [values[order] for values, _ in columns]
    keep = np.ones(order.size, dtype=bool)
    if order.size > 1:
        differs = np.zeros(order.size - 1, dtype=bool)
        for values in cols:
            differs |= values[1:] != values[:-1]
        keep[1:] = differs
    return [values[keep] for values in cols]


@dataclass
class _Identifiers:
    """Distinct (kind, value) identifiers, numbered by the rank of their hash.

    Numbering by hash rank makes every later tie-break and the evidence order depend on
    the identifier itself, never on input row order.
    """

    row_rank: np.ndarray  # per input row: identifier number (int32), -1 if unusable
    row_phone: np.ndarray  # per input row: True for phones
    kind: np.ndarray  # per identifier: 0 email, 1 phone (int8)
    blocked: np.ndarray  # per identifier: value is on the blocklist
    digests: np.ndarray  # per identifier: (m, 32) sha256, ascending
    evidence: pa.StringArray | pa.LargeStringArray  # per input row
    # Display masks are taken or computed only for the identifiers that need them:
    encoded_order: np.ndarray  # identifier number -> number in encoding order
    encoded_values: pa.LargeStringArray  # per identifier in encoding order
    encoded_masks: pa.LargeStringArray | None  # likewise, when given as input

    @property
    def count(self) -> int:
        return int(self.kind.size)

    def masks(self, numbers: np.ndarray | None = None) -> pa.LargeStringArray:
        """Display masks of the identifiers ``numbers`` (all by default)."""
        rows = self.encoded_order if numbers is None else self.encoded_order[numbers]
        if self.encoded_masks is not None:
            return as_large_strings(_take(self.encoded_masks, rows))
        kinds = self.kind if numbers is None else self.kind[numbers]
        return normalize.mask_identifiers(
            _take(_strings_of(IDENTIFIER_KINDS), kinds), _take(self.encoded_values, rows)
        )


def _hex_strings(
    digests: np.ndarray, tails: Sequence[pa.LargeStringArray] = ()
) -> pa.LargeStringArray:
    """Hex of ``(k, 32)`` digests as strings, followed by the strings of ``tails``.

    Built in one buffer (hexlify in blocks) so that ``[hashes | record keys]`` for the
    evidence column exists once instead of as hex strings plus a concatenated copy.
    """
    k = digests.shape[0]
    parts = [_string_buffers(t) for t in tails]
    tail_bytes = [int(off[-1] - off[0]) for off, _ in parts]
    data = np.empty(k * 64 + sum(tail_bytes), dtype=np.uint8)
    for lo in range(0, k, _ROW_BLOCK):
        hi = min(k, lo + _ROW_BLOCK)
        data[lo * 64 : hi * 64] = np.frombuffer(
            binascii.hexlify(np.ascontiguousarray(digests[lo:hi]).tobytes()), np.uint8
        )
    offsets = [np.arange(k + 1, dtype=np.int64) * 64]
    pos = k * 64
    for (off, tail_data), size in zip(parts, tail_bytes, strict=True):
        data[pos : pos + size] = tail_data[off[0] : off[-1]]
        offsets.append(off[1:] - off[0] + pos)
        pos += size
    n = k + sum(len(t) for t in tails)
    validity = None
    if any(t.null_count for t in tails):
        valid = np.concatenate(
            [np.ones(k, dtype=bool), *(bool_mask(pc.is_valid(t)) for t in tails)]
        )
        validity = pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.LargeStringArray.from_buffers(
        n, pa.py_buffer(np.concatenate(offsets)), pa.py_buffer(data), validity
    )


@dataclass
class _EncodedIdentifiers:
    """Identifier rows numbered by distinct (kind, value), in order of first appearance."""

    usable: np.ndarray  # per input row: non-null, non-empty value
    row_kind: np.ndarray  # per input row: 0 email, 1 phone, -1 null kind
    pair_idx: np.ndarray  # per usable row: distinct identifier number
    kind: np.ndarray  # per identifier: 0 email, 1 phone (int8)
    values: pa.LargeStringArray  # per identifier: normalized value
    digests: np.ndarray | None = None  # per identifier: sha256, when given as input
    masks: pa.LargeStringArray | None = None  # per identifier: mask, when given as input
    order: np.ndarray | None = None  # identifiers in digest order, when already known


def _row_kinds(kinds: pa.StringArray | pa.LargeStringArray) -> np.ndarray:
    """Per row: the position of its kind in IDENTIFIER_KINDS, -1 for null or unknown."""
    row_kind = np.full(len(kinds), -1, dtype=np.int8)
    for code, name in enumerate(IDENTIFIER_KINDS):
        row_kind[bool_mask(pc.equal(kinds, pa.scalar(name, kinds.type)))] = code
    return row_kind


def _hash_digests(hashes: pa.LargeStringArray, usable: np.ndarray) -> np.ndarray | None:
    """``(usable rows, 32)`` digests from 64-character hex hashes present exactly on the
    usable rows (null elsewhere), without copying the strings; ``None`` otherwise."""
    if not np.array_equal(bool_mask(pc.is_valid(hashes)), usable):
        return None
    offsets, data = _string_buffers(hashes)
    if not np.array_equal(np.diff(offsets), np.where(usable, 64, 0)):
        return None
    hex_bytes = data[offsets[0] : offsets[-1]]  # the present hashes, back to back
    out = np.empty((hex_bytes.size // 64, 32), dtype=np.uint8)
    for lo in range(0, out.shape[0], _ROW_BLOCK):  # bounded temporary bytes
        hi = min(out.shape[0], lo + _ROW_BLOCK)
        try:
            raw = binascii.unhexlify(hex_bytes[lo * 64 : hi * 64].tobytes())
        except (binascii.Error, ValueError):
            return None
        out[lo:hi] = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 32)
    return out


def _kind_codes(kinds: pa.StringArray | pa.LargeStringArray, usable: np.ndarray) -> np.ndarray:
    """Per row: the kind's code (:func:`_row_kinds`); ValueError on a usable row whose
    kind is unknown."""
    row_kind = _row_kinds(kinds)
    bad = usable & (row_kind < 0)
    if bad.any():
        found = sorted({str(k) for k in _take(kinds, np.nonzero(bad)[0][:1000]).to_pylist()})
        raise ValueError(f"identifiers.kind must be one of {IDENTIFIER_KINDS}; found {found[:10]}")
    return row_kind


def _encode_dictionary_identifiers(ids: _Frame) -> _EncodedIdentifiers | None:
    """:func:`_encode_identifiers` for dictionary-encoded ``value``, ``identifier_hash``
    and ``identifier_masked`` columns sharing one index array (as
    ``normalize_identifier_columns(..., dictionary=True)`` returns them): digests are
    decoded and numbered once per dictionary entry instead of once per row. ``None``
    when the columns do not have that shape."""
    if not set(PRECOMPUTED_IDENTIFIER_COLUMNS) <= ids.columns or ids.num_rows == 0:
        return None
    cols = [ids.column(c) for c in ("value", *PRECOMPUTED_IDENTIFIER_COLUMNS)]
    if not all(isinstance(c, pa.DictionaryArray) for c in cols):
        return None
    index = cols[0].indices
    if not all(c.indices.equals(index) for c in cols[1:]):
        return None
    values, hashes, masks = (as_large_strings(c.dictionary) for c in cols)
    entry_ok = bool_mask(pc.and_(pc.is_valid(values), pc.not_equal(values, _ls(""))))
    row_entry = _indices(index)  # int32 per row: the width of everything per row here
    usable = row_entry >= 0
    usable[usable] = entry_ok[row_entry[usable]]
    row_kind = _kind_codes(ids.text("kind"), usable)
    # The entries rows use are the identifiers, unless a dictionary repeats a value.
    used = np.zeros(len(values), dtype=bool)
    used[row_entry[usable]] = True
    entries = np.flatnonzero(used)
    if entries.size == 0:
        return None
    every = entries.size == len(values)
    digests = _hash_digests(
        hashes if every else _take(hashes, entries), np.ones(entries.size, dtype=bool)
    )
    if digests is None:
        return None
    order, starts = _digest_order(digests)
    repeated = not starts.all()
    if repeated:  # identifiers are the distinct digests, numbered in digest order
        codes = np.empty(entries.size, dtype=np.int64)
        codes[order] = np.cumsum(starts) - 1
        first = order[starts]  # the first entry (in digest order) of each identifier
        order = np.arange(first.size, dtype=np.int64)
    else:
        first = codes = np.arange(entries.size, dtype=np.int64)
    usable_rows = np.flatnonzero(usable)
    plain = every and not repeated  # identifier number = dictionary index
    if plain:
        pair_idx = row_entry[usable_rows]
    else:
        code_of_entry = np.full(len(values), -1, dtype=np.int32)
        code_of_entry[entries] = codes
        pair_idx = code_of_entry[row_entry[usable_rows]]
    kind = np.empty(first.size, dtype=np.int8)
    kind[pair_idx] = row_kind[usable_rows]  # one kind per hash (the hash covers the kind)
    chosen = entries[first]
    return _EncodedIdentifiers(
        usable=usable,
        row_kind=row_kind,
        pair_idx=pair_idx,
        kind=kind,
        values=values if plain else as_large_strings(_take(values, chosen)),
        digests=digests[first] if repeated else digests,
        masks=masks if plain else as_large_strings(_take(masks, chosen)),
        order=order,
    )


def _encode_identifiers(ids: _Frame) -> _EncodedIdentifiers:
    """Number the distinct (kind, value) identifiers; raise on an unknown kind.

    With the optional precomputed hashes (:data:`PRECOMPUTED_IDENTIFIER_COLUMNS`) the
    identifiers are numbered by hash (one hash per (kind, value)) and their digests and
    masks come along; otherwise by the value strings.
    """
    from_dictionary = _encode_dictionary_identifiers(ids)
    if from_dictionary is not None:
        return from_dictionary
    values = ids.strings("value")
    usable = bool_mask(pc.and_(pc.is_valid(values), pc.not_equal(values, _ls(""))))
    row_kind = _kind_codes(ids.text("kind"), usable)
    usable_rows = np.flatnonzero(usable)
    if set(PRECOMPUTED_IDENTIFIER_COLUMNS) <= ids.columns and usable_rows.size:
        digests = _hash_digests(ids.strings("identifier_hash"), usable)
        found = _digest_codes(digests) if digests is not None else None
        if found is not None:
            pair_idx, first = found
            rows = usable_rows[first]
            return _EncodedIdentifiers(
                usable=usable,
                row_kind=row_kind,
                pair_idx=pair_idx,
                kind=row_kind[rows].astype(np.int8),
                values=_take(values, rows),
                digests=digests[first],
                masks=_take(ids.strings("identifier_masked"), rows),
            )

    (value_codes,), value_dict = _encode_together([values])
    del values
    pair_idx, pair_uniq = pd.factorize(
        value_codes[usable].astype(np.int64) * 2 + row_kind[usable], sort=False
    )
    del value_codes
    pair_uniq = np.asarray(pair_uniq, dtype=np.int64)
    return _EncodedIdentifiers(
        usable=usable,
        row_kind=row_kind,
        pair_idx=np.asarray(pair_idx, dtype=np.int64),
        kind=(pair_uniq % 2).astype(np.int8),
        values=as_large_strings(_take(value_dict, pair_uniq // 2)),
    )


def _excluded(digests: np.ndarray, hashes: frozenset[str]) -> np.ndarray | None:
    """Per identifier (``(m, 32)`` digests): its hex hash is one of ``hashes``."""
    if not hashes or digests.shape[0] == 0:
        return None
    wanted = pa.array(sorted(h.lower() for h in hashes), pa.large_string())
    return bool_mask(pc.is_in(_hex_strings(digests), value_set=wanted))


def _blocked(values: pa.LargeStringArray, blocklist: frozenset[str]) -> np.ndarray:
    if blocklist and len(values):
        value_set = pa.array(sorted(blocklist), pa.large_string())
        return bool_mask(pc.is_in(values, value_set=value_set))
    return np.zeros(len(values), dtype=bool)


def _digest_order(digests: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``(k, 32)`` digests in ascending order, and along that order True where a
    row's digest differs from the previous row's (the start of each distinct digest).

    Sorted by the leading 8 bytes; rows sharing them are compared in full, and only a
    genuine 8-byte collision between different digests needs the full 32-byte sort.
    """
    k = digests.shape[0]
    prefix = digests[:, :8].copy().view(">u8").ravel()
    order = np.argsort(prefix, kind="stable")
    ordered = prefix[order]
    starts = np.ones(k, dtype=bool)
    starts[1:] = ordered[1:] != ordered[:-1]
    del prefix, ordered
    if starts.all():
        return order, starts
    words = np.ascontiguousarray(digests).view(">u8").reshape(-1, 4)
    tied = np.flatnonzero(~starts)
    if np.all(words[order[tied]] == words[order[tied - 1]]):
        return order, starts  # repeated digests only: the prefix order is the digest order
    order = np.lexsort([words[:, j] for j in (3, 2, 1, 0)])
    ordered_words = words[order]
    starts[1:] = np.any(ordered_words[1:] != ordered_words[:-1], axis=1)
    return order, starts


def _prepare_identifiers(ids: _Frame, blocklist: frozenset[str]) -> _Identifiers:
    """Encode identifier rows; hash and blocklist-check each distinct (kind, value).

    Independent of the record keys, so it runs while they are encoded on another thread;
    identifiers seen only on unknown records are dropped later (they hold no record).
    """
    enc = _encode_identifiers(ids)
    digests = (
        enc.digests
        if enc.digests is not None
        else normalize.identifier_digests(
            _take(_strings_of(IDENTIFIER_KINDS), enc.kind), enc.values
        )
    )
    order = enc.order if enc.order is not None else _digest_order(digests)[0]  # distinct
    rank = np.empty(order.size, dtype=np.int32)
    rank[order] = np.arange(order.size, dtype=np.int32)
    row_rank = np.full(len(enc.usable), -1, dtype=np.int32)
    row_rank[enc.usable] = rank[enc.pair_idx]
    del rank
    return _Identifiers(
        row_rank=row_rank,
        row_phone=enc.row_kind == 1,
        kind=enc.kind[order],
        blocked=_blocked(enc.values, blocklist)[order],
        digests=digests[order],
        evidence=ids.text("evidence"),
        encoded_order=order,
        encoded_values=enc.values,
        encoded_masks=enc.masks,
    )


def _ledger(
    pairs: _Pairs,
    assigned: np.ndarray,
    uuid_dict: pa.Array,
    comp_uuid: pa.Array,
    keys_sorted: pa.Array,
    anchor_pos: np.ndarray,
) -> pd.DataFrame:
    """One row per (previous uuid, customer) whose records changed uuid.

    ``'merge'``: the records joined a customer that kept another previous uuid;
    ``'split'``: the records now form a customer with a newly minted uuid because their
    previous uuid stayed with another part. Sorted by (from, to), which is unique.
    """
    moved = np.nonzero(assigned[pairs.comp] != pairs.uuid)[0]
    comps = pairs.comp[moved]
    frame = _to_pandas(
        {
            "event": _take(_strings_of(["merge", "split"]), np.where(assigned[comps] >= 0, 0, 1)),
            "from_customer_uuid": _take(uuid_dict, pairs.uuid[moved]),
            "to_customer_uuid": _take(comp_uuid, comps),
            "records_moved": pairs.moved[moved],
            "anchor_record_key": _take(keys_sorted, anchor_pos[comps]),
        }
    )
    frame = frame.sort_values(["from_customer_uuid", "to_customer_uuid"], kind="stable")
    return frame.reset_index(drop=True)


class _Inline:
    """Synchronous stand-in for a one-worker executor (profiling, debugging)."""

    def __enter__(self) -> _Inline:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def submit(self, fn: Any, *args: Any) -> Any:
        from concurrent.futures import Future

        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args))
        except BaseException as err:  # re-raised by .result(), like a real executor
            future.set_exception(err)
        return future


#: Run the two overlapping halves of the work on a worker thread (set False to profile).
_USE_THREADS = True


def _workers(count: int) -> ThreadPoolExecutor | _Inline:
    return ThreadPoolExecutor(max_workers=count) if _USE_THREADS else _Inline()


def _peak_rss_mib() -> int:
    try:
        import resource
    except ImportError:  # not on Windows
        return -1
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10


class _Stopwatch:
    """Stage timings, logged at DEBUG level (kept out of the outputs, which must be a pure
    function of the inputs)."""

    def __init__(self) -> None:
        self._last = (time.perf_counter(), time.process_time())
        self.stages: dict[str, tuple[float, float, int, int]] = {}

    def lap(self, stage: str) -> None:
        """Record (wall, CPU of all threads) seconds since the previous lap, the Arrow
        memory pool's MiB and the process's peak RSS MiB so far."""
        if not _log.isEnabledFor(logging.DEBUG):
            return
        now = (time.perf_counter(), time.process_time())
        self.stages[stage] = (
            round(now[0] - self._last[0], 3),
            round(now[1] - self._last[1], 3),
            pa.total_allocated_bytes() >> 20,
            _peak_rss_mib(),
        )
        self._last = now


def _check_unique(codes: np.ndarray, key_dict: pa.Array, what: str) -> None:
    """Raise ValueError naming a few duplicated keys (codes of a shared dictionary)."""
    codes = np.sort(codes[codes >= 0])
    if codes.size < 2:
        return
    dup = codes[1:] == codes[:-1]
    if not dup.any():
        return
    dups = _unique_sorted(codes[1:][dup])
    examples = ", ".join(repr(k) for k in _take(key_dict, dups[:5]).to_pylist())
    raise ValueError(
        f"{what} must be unique: {dups.size} key(s) occur more than once, e.g. {examples}"
    )


@dataclass
class _Keys:
    """Record keys of every input mapped to record rows, and the previous uuids encoded."""

    codes: list[np.ndarray]  # per other key column: record row, >= n unknown, -1 null
    dictionary: _KeyDictionary | None  # strings of the codes
    prev_uuid_codes: np.ndarray  # previous.customer_uuid codes (-1 null)
    uuid_dict: pa.LargeStringArray


def _encode_keys(
    rec_keys: pa.StringArray | pa.LargeStringArray,
    others: list[pa.StringArray | pa.LargeStringArray],
    prev_uuids: pa.LargeStringArray,
) -> _Keys:
    """Map every record_key column to record rows (:func:`_record_rows`): a known key's
    code is its record's row, an unknown key's code is >= n. The last column of
    ``others`` must be previous keys."""
    codes, dictionary = _record_rows(rec_keys, others)
    _check_unique(codes[-1], dictionary, "previous.record_key")
    prev_uuid_codes, uuid_dict = _encode_uuids(prev_uuids)
    return _Keys(codes, dictionary, prev_uuid_codes, uuid_dict)


def _strings_of(values: Iterable[str | None]) -> pa.LargeStringArray:
    return pa.array(list(values), pa.large_string())


_METHOD_NAMES = _strings_of(
    [
        "+".join(k for k, b in (("email", 1), ("link", 2), ("phone", 4)) if code & b) or None
        for code in range(8)
    ]
    + ["singleton"]
)


def _permuted_np(values: np.ndarray, order: np.ndarray | None) -> np.ndarray:
    return values if order is None else values[order]


def _permuted(arr: pa.Array, order: np.ndarray | None) -> pa.Array:
    return arr if order is None else _take(arr, order)


def _static_columns(
    rec: _Frame,
    order: np.ndarray | None,
    keys_sorted: pa.LargeStringArray,
    component_size: np.ndarray,
    bits: np.ndarray,
    is_anchor: np.ndarray,
    ev_rows: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, _Identifiers] | None,
    status: np.ndarray,
    n_d: int,
    d_sorted: pa.LargeStringArray,
    ev_dict: pa.LargeStringArray,
    ev_rank: np.ndarray,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Columns of identity_map and evidence (``None`` without ``ev_rows``: the evidence
    rows and the identifiers) that do not depend on the uuids."""
    map_cols = {
        "record_key": keys_sorted,
        "source_table": _permuted(rec.text("source_table"), order),
        "source_id": _permuted(rec.text("source_id"), order),
        "match_method": _take(_METHOD_NAMES, np.where(component_size == 1, 8, bits)),
        "component_size": component_size,
        "is_anchor": is_anchor,
    }
    if ev_rows is None:
        return map_cols, None
    ev_pos, ev_kind, ev_sec, ev_e, ident = ev_rows
    m = ident.count
    is_ident_row = ev_kind != _EDGE_LINK
    link_row = ~is_ident_row
    ev_status = np.full(ev_pos.size, _ST_USED, dtype=np.int64)
    ev_status[is_ident_row] = status[ev_sec[is_ident_row]]
    ev_status[link_row & (ev_sec < n_d)] = _ST_DANGLING
    # identifier_hash text: [hashes (m) | unknown keys (n_d) | record keys (n)].
    hash_text = _hex_strings(ident.digests, [d_sorted, as_large_strings(keys_sorted)])
    ev_text = pa.concat_arrays(
        [as_large_strings(_take(ev_dict, np.argsort(ev_rank[:-1]))), _null_strings(1)]
    )
    ev_cols = {
        "record_key": _take(keys_sorted, ev_pos),
        "edge_kind": _take(_strings_of(EDGE_KINDS), ev_kind),
        "evidence": _take(ev_text, ev_e),
        "identifier_hash": _take(hash_text, np.where(is_ident_row, ev_sec, m + ev_sec)),
        "identifier_masked": _take(
            ident.masks() if m else _null_strings(1),
            np.where(is_ident_row, ev_sec, 0),
            mask=link_row,
        ),
        "status": _take(_strings_of(STATUSES), ev_status),
    }
    return map_cols, ev_cols


@dataclass
class _Pairs:
    """Distinct (customer, previous uuid) pairs among records holding a previous uuid."""

    comp: np.ndarray
    uuid: np.ndarray
    moved: np.ndarray  # records of the component that held the uuid
    priority: np.ndarray  # age key (_AgeKeys) of the earliest of them


def _assign_uuids(
    namespace: uuid.UUID,
    keys: _Keys,
    prev_pos: np.ndarray,
    comp: np.ndarray,
    n_comp: int,
    age_keys: np.ndarray,
    anchor_pos: np.ndarray,
    keys_sorted: pa.LargeStringArray,
    reserved: pa.Array | None = None,
) -> tuple[pa.LargeStringArray, np.ndarray, _Pairs, np.ndarray]:
    """uuid per component: carried over from the previous run or minted (uuid5); a minted
    uuid avoids the previous uuids of the records here and ``reserved``.

    Returns (uuid per component, previous uuid code per record or -1, pairs, assigned
    previous uuid code per component or -1).
    """
    n = comp.size
    uuid_dict = keys.uuid_dict
    n_uuid = max(len(uuid_dict), 1)
    has = (prev_pos >= 0) & (keys.prev_uuid_codes >= 0)
    prev_u = np.full(n, -1, dtype=np.int64)
    prev_u[prev_pos[has]] = keys.prev_uuid_codes[has]

    holders = np.nonzero(prev_u >= 0)[0]
    pair_idx, pair_uniq = pd.factorize(comp[holders] * n_uuid + prev_u[holders], sort=False)
    pair_uniq = np.asarray(pair_uniq, dtype=np.int64)
    pairs = _Pairs(
        comp=pair_uniq // n_uuid,
        uuid=pair_uniq % n_uuid,
        moved=np.bincount(pair_idx, minlength=pair_uniq.size).astype(np.int64),
        priority=_group_min(pair_idx, age_keys[holders], pair_uniq.size),
    )
    assigned = _match_previous(pairs.comp, pairs.uuid, pairs.priority, n_comp, n_uuid)

    new_comps = np.nonzero(assigned < 0)[0]
    kept_comps = np.nonzero(assigned >= 0)[0]
    held = as_large_strings(_take(uuid_dict, _unique_sorted(prev_u[holders])))
    if reserved is not None and len(reserved):
        held = pa.concat_arrays([held, pc.drop_null(reserved)])
    fresh = _new_uuids(namespace, _take(keys_sorted, anchor_pos[new_comps]), held)
    slot = np.empty(n_comp, dtype=np.int64)
    slot[kept_comps] = np.arange(kept_comps.size)
    slot[new_comps] = kept_comps.size + np.arange(new_comps.size)
    kept = as_large_strings(_take(uuid_dict, assigned[kept_comps]))
    comp_uuid = _take(pa.concat_arrays([kept, fresh]), slot)
    return comp_uuid, prev_u, pairs, assigned


def resolve_identities(
    records: pd.DataFrame | pa.Table,
    identifiers: pd.DataFrame | pa.Table | None,
    links: pd.DataFrame | pa.Table | None,
    previous: pd.DataFrame | pa.Table | None = None,
    config: IdentityConfig | None = None,
    *,
    with_evidence: bool = True,
    reserved_uuids: pa.Array | pa.ChunkedArray | None = None,
) -> IdentityResult:
    """Resolve Bitrix records into customers with stable uuids.

    Parameters
    ----------
    records
        ``record_key`` (unique, e.g. ``'b_user:123'``), ``source_table``, ``source_id``,
        ``first_seen_at`` (timestamp, may be null).
    identifiers
        ``record_key``, ``kind`` (``'email'`` | ``'phone'``), ``value`` (normalized; null
        or empty values are ignored), ``evidence`` (e.g. ``'b_user.EMAIL'``). Rows with a
        value whose record is unknown are ignored and counted
        (``dangling_identifier_rows``).
        Optional ``identifier_hash`` and ``identifier_masked`` (both or neither; see
        :data:`PRECOMPUTED_IDENTIFIER_COLUMNS`) save hashing and masking again; given
        as dictionary columns sharing one index with ``value``
        (``normalize_identifier_columns(..., dictionary=True)``) each hash is decoded
        once per dictionary entry.
    links
        ``record_key``, ``other_record_key``, ``evidence`` (e.g.
        ``'b_sale_fuser.USER_ID'``): hard links stored by Bitrix. Links touching an
        unknown record are left out of the graph, counted (``dangling_links``) and kept
        in ``evidence`` with status ``'dangling'`` on their known side.
    previous
        The previous run's ``identity_map`` (``record_key``, ``customer_uuid``; other
        columns are ignored), or ``None`` for a first run / full rebuild.
    config
        :class:`IdentityConfig`; defaults to ``IdentityConfig()``.
    with_evidence
        Build ``evidence`` (the default). ``False`` returns it empty (its columns, no
        rows) and saves its sort and strings, the largest part of the memory (~200 bytes
        per evidence row); every other output is identical.
    reserved_uuids
        uuids that a minted uuid must not take besides the previous uuids of the records
        here: those of current records outside the part of the graph resolved here
        (with ``IdentityConfig.excluded_hashes``, resolving the components a change
        touched gives the rows a resolution of the whole graph gives them).

    Algorithm
    ---------
    1. Components of the hard links alone are *link-groups*. Each (kind, value)
       identifier is ``'blocklisted'`` if its value is in ``config.blocklist``, or
       ``'over_shared'`` if it touches more than ``config.max_customers_per_identifier``
       link-groups; such identifiers are left out of the graph and listed in ``guarded``.
    2. Customers are the connected components of the bipartite graph of records and the
       remaining identifiers, plus the links.
    3. The anchor of a customer is its earliest record by (``first_seen_at`` nulls last,
       ``record_key``). A customer none of whose records had a previous uuid gets
       ``uuid5(namespace, anchor record_key)``, so a rebuild without state reproduces a
       first run. One previous uuid is kept. Several (a merge) -> the uuid of the earliest
       previous holder survives and the others are logged as ``'merge'``. A previous uuid
       spread over several customers (a split) stays with the one holding its earliest
       previous holder; the others get new uuids and ``'split'`` rows. The exact rule,
       also for merges and splits at once, is in :func:`_match_previous`. A minted uuid
       never reuses a previous uuid still held by a current record (then
       ``uuid5(namespace, anchor + ':split')`` is used).

    Cost
    ----
    Time and memory are linear in the rows apart from a few sorts. Memory is dominated by
    the inputs and the (plain string) outputs, ``evidence`` above all (~200 bytes per
    row: record key, customer uuid and the 64-character identifier hash are strings).
    Records already ordered by ``record_key`` skip the permutation copies.

    Raises
    ------
    ValueError
        Duplicate or null ``record_key`` in ``records``, duplicate ``record_key`` in
        ``previous``, missing columns, or an identifier ``kind`` other than ``'email'`` /
        ``'phone'``.
    """
    watch = _Stopwatch()
    cfg = config if config is not None else IdentityConfig()
    rec = _Frame(records, "records", RECORD_COLUMNS)
    ids = _Frame(identifiers, "identifiers", IDENTIFIER_COLUMNS)
    lnk = _Frame(links, "links", LINK_COLUMNS)
    prv = _Frame(previous, "previous", PREVIOUS_COLUMNS)
    n = rec.num_rows
    rec_keys = rec.text("record_key")
    if rec_keys.null_count:
        raise ValueError(f"records.record_key has {rec_keys.null_count} null value(s)")

    # One after the other, each on all cores, with freed memory handed back in between:
    # the record-key join (DuckDB) and the identifier encoding are the two largest working
    # sets of the step; at once, their sum would be its peak.
    order = _check_unique_keys(rec_keys, "records.record_key")
    keys = _encode_keys(
        rec_keys,
        [
            ids.text("record_key"),
            lnk.text("record_key"),
            lnk.text("other_record_key"),
            prv.text("record_key"),
        ],
        prv.strings("customer_uuid"),
    )
    watch.lap("keys")
    memory.release_unused()
    ident = _prepare_identifiers(ids, cfg.blocklist)
    (ev_id_codes, ev_ln_codes), ev_dict = _encode_together([ident.evidence, lnk.text("evidence")])
    watch.lap("identifiers")
    memory.release_unused()
    m = ident.count
    id_codes, a_codes, b_codes, prev_codes = keys.codes
    key_dict = keys.dictionary
    keys.codes, keys.dictionary = [], None  # dropped as soon as the locals are
    # Records are numbered by record_key order ("position") from here on. Input already
    # sorted by record_key (e.g. ORDER BY upstream) saves the permutation copies.
    presorted = bool(np.array_equal(order, np.arange(n)))
    rank = order if presorted else np.empty(n, dtype=_POS)
    if not presorted:
        rank[order] = np.arange(n, dtype=_POS)
    keys_sorted = rec_keys if presorted else _take(rec_keys, order)

    def to_pos(codes: np.ndarray) -> np.ndarray:
        out = np.full(codes.size, -1, dtype=_POS)
        known = (codes >= 0) & (codes < n)
        out[known] = rank[codes[known]]
        return out

    # Evidence strings by text rank; null evidence ranks last.
    n_ev = len(ev_dict) + 1
    ev_rank = np.append(_sorted_rank(ev_dict), n_ev - 1)
    ev_id, ev_ln = ev_rank[ev_id_codes], ev_rank[ev_ln_codes]
    del ev_id_codes, ev_ln_codes

    # ---- identifier rows ---------------------------------------------------------------
    id_pos = to_pos(id_codes)
    dangling_identifier_rows = int(np.count_nonzero((id_pos < 0) & (ident.row_rank >= 0)))
    keep = (ident.row_rank >= 0) & (id_pos >= 0)
    row_pos, row_h, row_ev = id_pos[keep], ident.row_rank[keep], ev_id[keep]
    row_edge = np.where(ident.row_phone[keep], _EDGE_PHONE, _EDGE_EMAIL)
    del id_pos, keep, ev_id

    # ---- link rows ---------------------------------------------------------------------
    a_pos, b_pos = to_pos(a_codes), to_pos(b_codes)
    used = (a_pos >= 0) & (b_pos >= 0)
    dangling_links = int(np.count_nonzero(~used))
    la, lb, lev = a_pos[used], b_pos[used], ev_ln[used]
    if with_evidence:
        one_known = (a_pos >= 0) ^ (b_pos >= 0)
        d_pos = np.where(a_pos >= 0, a_pos, b_pos)[one_known]
        d_other = np.where(a_pos >= 0, b_codes, a_codes)[one_known]  # unknown key or -1
        d_ev = ev_ln[one_known]
        d_uniq, d_inv = np.unique(d_other, return_inverse=True)
        d_strings = _take(key_dict, np.maximum(d_uniq, 0), mask=d_uniq < 0)
        d_rank_of_uniq = _sorted_rank(d_strings)
        n_d = int(d_uniq.size)
        d_sorted = as_large_strings(_take(d_strings, np.argsort(d_rank_of_uniq)))
        del one_known, d_other
    else:
        n_d, d_sorted = 0, _null_strings()
    del a_pos, b_pos, used, a_codes, b_codes, id_codes, key_dict

    if with_evidence:
        # ---- evidence rows: one sort gives the output order, dedup, (record, id) ----
        # The third sort column ("sec") is the hash rank for identifier rows; for link
        # rows the unknown key's text rank (dangling) or n_d + the other record's position
        # (used), so within a record dangling rows precede used ones, as their status does.
        ev_pos, ev_kind, ev_sec, ev_e = _sort_unique(
            [
                (np.concatenate([row_pos, la, d_pos]), max(n, 1)),
                (
                    np.concatenate(
                        [row_edge, np.full(la.size + d_pos.size, _EDGE_LINK, dtype=np.int64)]
                    ),
                    3,
                ),
                (
                    np.concatenate([row_h, n_d + lb, d_rank_of_uniq[d_inv]]),
                    max(m, n_d + n, 1),
                ),
                (np.concatenate([row_ev, lev, d_ev]), n_ev),
            ]
        )
        del d_pos, d_inv, d_ev
        is_ident_row = ev_kind != _EDGE_LINK
        # The first row of each (record, identifier) is its graph edge.
        first = is_ident_row.copy()
        if ev_pos.size > 1:
            first[1:] &= (
                (ev_pos[1:] != ev_pos[:-1])
                | (ev_kind[1:] != ev_kind[:-1])
                | (ev_sec[1:] != ev_sec[:-1])
            )
        fi_pos, fi_h = ev_pos[first], ev_sec[first]
        del first, is_ident_row
    else:
        fi_pos, fi_h = _record_identifier_pairs(row_pos, row_h, n, m)
    del row_pos, row_h, row_ev, row_edge, lev
    watch.lap("evidence_sort")
    memory.release_unused()

    # ---- guards: blocklist, then distinct link-groups per identifier -------------------
    nonself = la != lb
    la, lb = la[nonself], lb[nonself]
    groups, n_groups = _link_groups(n, la, lb)
    guard = _guard(
        groups,
        n_groups,
        fi_pos,
        fi_h,
        ident.blocked,
        int(cfg.max_customers_per_identifier),
        _excluded(ident.digests, cfg.excluded_hashes),
    )
    status, ident_records = guard.status, guard.records
    # guarded: by reason, then the most shared first, then hash (= identifier number).
    g = np.nonzero((status != _ST_USED) & guard.present)[0]
    guarded = _guarded_frame(
        ident.kind[g],
        ident.digests[g],
        ident.masks(g),
        status[g],
        guard.distinct_groups[g],
        ident_records[g],
    )
    identifier_figures = {
        "identifiers_used": int(np.count_nonzero((status == _ST_USED) & guard.present)),
        "identifiers_blocklisted": int(np.count_nonzero(status == _ST_BLOCKLISTED)),
        "identifiers_over_shared": int(np.count_nonzero(status == _ST_OVER_SHARED)),
    }
    kind = ident.kind
    del g, guard
    if not with_evidence:  # only evidence needs the digests, masks and row numbers
        del ident
    watch.lap("guards")

    # ---- customers: link-groups joined by used identifiers shared by 2+ records ------
    edge = (status[fi_h] == _ST_USED) & (ident_records[fi_h] >= 2)
    e_pos, e_h = fi_pos[edge], fi_h[edge]
    del fi_pos, fi_h, edge
    labels = _components(n_groups + m, groups[e_pos], n_groups + e_h)
    comp, n_comp = _dense_labels(labels[groups])
    del labels, groups
    sizes = np.bincount(comp, minlength=n_comp).astype(np.int64)
    bits = np.zeros(n, dtype=np.int64)
    bits[la] |= _BIT_LINK
    bits[lb] |= _BIT_LINK
    np.bitwise_or.at(bits, e_pos, np.where(kind[e_h] == 0, _BIT_EMAIL, _BIT_PHONE))
    del e_pos, e_h, la, lb
    age = _AgeKeys(
        _permuted_np(_timestamp_keys(rec.column("first_seen_at")), None if presorted else order)
    )
    anchor_pos = age.positions(_group_min(comp, age.keys, n_comp))
    watch.lap("components")
    memory.release_unused()

    with _workers(1) as pool:
        # Output columns that do not depend on uuids are built meanwhile.
        static_job = pool.submit(
            _static_columns,
            rec,
            None if presorted else order,
            keys_sorted,
            sizes[comp],
            bits,
            anchor_pos[comp] == np.arange(n),
            (ev_pos, ev_kind, ev_sec, ev_e, ident) if with_evidence else None,
            status,
            n_d,
            d_sorted,
            ev_dict,
            ev_rank,
        )
        comp_uuid, prev_u, pairs, assigned = _assign_uuids(
            cfg.uuid_namespace,
            keys,
            to_pos(prev_codes),
            comp,
            n_comp,
            age.keys,
            anchor_pos,
            keys_sorted,
            None if reserved_uuids is None else as_large_strings(reserved_uuids),
        )
        map_cols, ev_cols = static_job.result()
    watch.lap("uuids")

    ledger = _ledger(pairs, assigned, keys.uuid_dict, comp_uuid, keys_sorted, anchor_pos)
    map_cols["customer_uuid"] = _take(comp_uuid, comp)
    map_cols["previous_customer_uuid"] = _take(
        keys.uuid_dict, np.maximum(prev_u, 0), mask=prev_u < 0
    )
    identity_map = _to_pandas({c: map_cols[c] for c in MAP_COLUMNS})
    if ev_cols is None:
        evidence = _to_pandas({c: _null_strings() for c in EVIDENCE_COLUMNS})
    else:
        ev_cols["customer_uuid"] = _take(comp_uuid, comp[ev_pos])
        evidence = _to_pandas({c: ev_cols[c] for c in EVIDENCE_COLUMNS})
    del map_cols, ev_cols
    watch.lap("outputs")

    largest = int(sizes.max()) if n_comp else 0
    figures: dict[str, int | float] = {
        "records": n,
        "customers": int(n_comp),
        "singletons": int(np.count_nonzero(sizes == 1)),
        "largest_customer_records": largest,
        "largest_customer_share": largest / n if n else 0.0,
        **identifier_figures,
        "dangling_links": dangling_links,
        "dangling_identifier_rows": dangling_identifier_rows,
        "merges": int((ledger["event"] == "merge").sum()),
        "splits": int((ledger["event"] == "split").sum()),
        "mean_records_per_customer": n / n_comp if n_comp else 0.0,
    }
    health = pd.DataFrame(
        {
            k: np.array([v], dtype=np.float64 if isinstance(v, float) else np.int64)
            for k, v in figures.items()
        }
    )
    watch.lap("guarded+health")
    _log.debug(
        "resolve_identities: %d records, stage (wall s, cpu s, arrow MiB, peak RSS MiB) %s",
        n,
        watch.stages,
    )
    return IdentityResult(identity_map, evidence, guarded, ledger, health)
