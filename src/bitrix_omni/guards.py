"""The over-merge guards computed in the warehouse: only the shared values reach Python.

:func:`bitrix_omni.identity.guard_identifiers` reads every identifier row, every link and
every record key to find the few values that are blocklisted or shared by more than the
cap of link-groups. Here the warehouse counts the records per value (one aggregate) and
keeps the *candidates*: values on more records than the cap, or on the blocklist (a value
on at most ``cap`` records touches at most ``cap`` link-groups). Only the candidates'
holder rows are read, their link-groups are found by closing the holders under the links
(:func:`bitrix_omni.scoped.grow`) and numbering the components of the links read, and the
verdicts follow as in :func:`~bitrix_omni.identity.guard_identifiers`, whose frame this
returns (a property test compares the two).

``session`` and the relations are as in :mod:`bitrix_omni.scoped`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from bitrix_omni.arrow import as_large_strings
from bitrix_omni.frames import to_arrow
from bitrix_omni.identity import (
    GUARDED_COLUMNS,
    STATUSES,
    _components,
    _to_pandas,
    checked_cap,
)
from bitrix_omni.scoped import _from, _link_neighbours, grow

__all__ = ["warehouse_guarded_identifiers"]

#: Temporary tables: the candidates' holder rows, and their link closure.
HOLDERS_TABLE = "bitrix_omni_guard_holders"
GROUPS_TABLE = "bitrix_omni_guard_groups"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _holders_query(
    records: str, identifiers: str, links: str, blocklist: frozenset[str], cap: int
) -> str:
    """Distinct (record, value) rows of the candidate values, on known records, with the
    value's record count and whether it is blocklisted.

    Values on more than ``cap`` identifier rows are a superset of the values on more than
    ``cap`` records, found by one aggregate without the join to the records; the holders
    of those are joined and counted exactly. Most are a customer's own address on their
    orders: each holder's *anchor*, the least of itself and the known records it links
    to, lies in its link-group, so a value on at most ``cap`` anchors touches at most
    ``cap`` link-groups and is dropped before the link closure.
    """
    blocked = (
        f"ids.identifier_value in ({', '.join(_literal(v) for v in sorted(blocklist))})"
        if blocklist
        else "false"
    )
    known = f"(select known.record_key from {_from(records, 'known')})"
    return f"""
        with rows_per_value as (
            select
                ids.identifier_kind,
                ids.identifier_hash,
                max(case when {blocked} then 1 else 0 end) as blocked
            from {_from(identifiers, "ids")}
            where ids.identifier_hash is not null
            group by ids.identifier_kind, ids.identifier_hash
            having count(*) > {int(cap)} or max(case when {blocked} then 1 else 0 end) = 1
        ),
        holders as (
            select distinct
                ids.record_key,
                ids.identifier_kind,
                ids.identifier_hash,
                ids.identifier_masked,
                rows_per_value.blocked
            from {_from(identifiers, "ids")}
            inner join rows_per_value
                on
                    ids.identifier_kind = rows_per_value.identifier_kind
                    and ids.identifier_hash = rows_per_value.identifier_hash
            where ids.record_key in {known}
        ),
        counted as (
            select
                holders.*,
                count(*) over (
                    partition by holders.identifier_kind, holders.identifier_hash
                ) as records
            from holders
        ),
        candidates as (
            select * from counted where records > {int(cap)} or blocked = 1
        ),
        neighbours as (
            select links.record_key, links.other_record_key as neighbour
            from {_from(links, "links")}
            where links.record_key in (select candidates.record_key from candidates)
            union all
            select links.other_record_key as record_key, links.record_key as neighbour
            from {_from(links, "links")}
            where links.other_record_key in (select candidates.record_key from candidates)
        ),
        anchors as (
            select record_key, min(neighbour) as anchor
            from neighbours
            where neighbour in {known}
            group by record_key
        ),
        anchored as (
            select
                candidates.*,
                case
                    when anchors.anchor < candidates.record_key then anchors.anchor
                    else candidates.record_key
                end as anchor
            from candidates
            left join anchors
                on candidates.record_key = anchors.record_key
        ),
        spread as (
            select identifier_kind, identifier_hash
            from anchored
            group by identifier_kind, identifier_hash
            having count(distinct anchor) > {int(cap)} or max(blocked) = 1
        )
        select
            anchored.record_key,
            anchored.identifier_kind,
            anchored.identifier_hash,
            anchored.identifier_masked,
            anchored.records,
            anchored.blocked
        from anchored
        inner join spread
            on
                anchored.identifier_kind = spread.identifier_kind
                and anchored.identifier_hash = spread.identifier_hash
    """


def _frame(values: pd.DataFrame) -> pd.DataFrame:
    """The guarded frame with the column types of the resolution's (typed when empty)."""
    return _to_pandas(
        {
            c: pa.array(values[c].tolist(), pa.large_string())
            if c not in ("distinct_groups", "records")
            else np.asarray(values[c], dtype=np.int64)
            for c in GUARDED_COLUMNS
        }
    )


def warehouse_guarded_identifiers(
    session: Any,
    records: str,
    identifiers: str,
    links: str,
    blocklist: frozenset[str],
    max_customers_per_identifier: int,
) -> pd.DataFrame:
    """:func:`bitrix_omni.identity.guard_identifiers`' frame (:data:`GUARDED_COLUMNS`),
    computed from the relations (SQL queries) of the records, the normalized identifiers
    (``identifier_kind``, ``identifier_value``, ``identifier_hash`` NULL when invalid,
    ``identifier_masked``) and the links."""
    cap = checked_cap(max_customers_per_identifier)
    session.execute(f"drop table if exists {HOLDERS_TABLE}")
    try:
        session.execute(
            f"create temporary table {HOLDERS_TABLE} as "
            + _holders_query(records, identifiers, links, blocklist, cap)
        )
        holders = to_arrow(session.sql(f"select * from {HOLDERS_TABLE}"))
        if holders.num_rows == 0:
            return _frame(pd.DataFrame({c: [] for c in GUARDED_COLUMNS}))
        grow(
            session,
            GROUPS_TABLE,
            f"select distinct record_key from {HOLDERS_TABLE}",
            lambda frontier: _link_neighbours(links, GROUPS_TABLE, frontier),
        )
        known = to_arrow(
            session.sql(
                f"select reached.record_key from {GROUPS_TABLE} as reached "
                f"where reached.record_key in (select known.record_key "
                f"from {_from(records, 'known')})"
            )
        )
        edges = to_arrow(
            session.sql(
                f"select links.record_key, links.other_record_key from {_from(links, 'links')} "
                f"where links.record_key in (select record_key from {GROUPS_TABLE})"
            )
        )
    finally:
        session.execute(f"drop table if exists {GROUPS_TABLE}")
        session.execute(f"drop table if exists {HOLDERS_TABLE}")
    return _verdicts(holders, known["record_key"], edges, cap)


def _verdicts(holders: pa.Table, known: Any, edges: pa.Table, cap: int) -> pd.DataFrame:
    """Link-groups of the holders (components of the links between known records), then
    the distinct groups per candidate value and its verdict."""
    keys = as_large_strings(known)  # the reached records, each once

    def rows(column: Any) -> np.ndarray:
        found = pc.index_in(as_large_strings(column), value_set=keys)
        return np.asarray(pc.fill_null(found, -1).to_numpy(zero_copy_only=False), np.int64)

    a, b = rows(edges["record_key"]), rows(edges["other_record_key"])
    used = (a >= 0) & (b >= 0) & (a != b)
    groups = _components(len(keys), a[used], b[used])
    frame = pd.DataFrame(
        {
            "kind": holders["identifier_kind"].to_pylist(),
            "identifier_hash": holders["identifier_hash"].to_pylist(),
            "identifier_masked": holders["identifier_masked"].to_pylist(),
            "records": holders["records"].to_numpy().astype(np.int64),
            "blocked": holders["blocked"].to_numpy() == 1,
            "group": groups[rows(holders["record_key"])],
        }
    )
    values = (
        frame.groupby(["kind", "identifier_hash"], sort=False)
        .agg(
            identifier_masked=("identifier_masked", "first"),
            records=("records", "first"),
            blocked=("blocked", "first"),
            distinct_groups=("group", "nunique"),
        )
        .reset_index()
    )
    values = values[values["blocked"] | (values["distinct_groups"] > cap)].copy()
    values["reason"] = np.where(values["blocked"], STATUSES[0], STATUSES[2])
    values["distinct_groups"] = values["distinct_groups"].astype(np.int64)
    values = values.sort_values(
        ["reason", "distinct_groups", "identifier_hash"], ascending=[True, False, True]
    )
    return _frame(values)
