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

An hourly run re-checks only the values whose verdict can have changed
(:func:`run_guards`): the values held by a record in a link component around the records
whose inputs changed since the stored verdicts, and the guarded values now held by another
number of records. Every other value keeps its holders and their link-groups, hence its
stored verdict (the argument is in :func:`run_guards`; a property test compares the result
with a whole run).

``session`` and the relations are as in :mod:`bitrix_omni.scoped`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
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
from bitrix_omni.pipeline import utc_stamp
from bitrix_omni.scoped import (
    _columns,
    _count,
    _from,
    _link_neighbours,
    create_temporary_table,
    grow,
)

__all__ = ["GuardRun", "guard_config", "run_guards", "warehouse_guarded_identifiers"]

#: Temporary tables: the candidates' holder rows, and their link closure.
HOLDERS_TABLE = "bitrix_omni_guard_holders"
GROUPS_TABLE = "bitrix_omni_guard_groups"
#: Temporary tables of a run that re-checks some values: the link components around the
#: changed records, and the values to re-check.
AFFECTED_TABLE = "bitrix_omni_guard_affected"
VALUES_TABLE = "bitrix_omni_guard_values"
#: The columns the guard model adds to the verdicts: when the run computed them (the
#: watermark of the next run) and the configuration they were computed with.
BUILT_AT, CONFIG = "_built_at", "_guard_config"


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
    values: str | None = None,
) -> pd.DataFrame:
    """:func:`bitrix_omni.identity.guard_identifiers`' frame (:data:`GUARDED_COLUMNS`),
    computed from the relations (SQL queries) of the records, the normalized identifiers
    (``identifier_kind``, ``identifier_value``, ``identifier_hash`` NULL when invalid,
    ``identifier_masked``) and the links; with ``values`` (a table of distinct
    ``identifier_kind``, ``identifier_hash``), the verdicts on those values only."""
    cap = checked_cap(max_customers_per_identifier)
    if values is not None:
        identifiers = f"""
            select ids.*
            from {_from(identifiers, "ids")}
            inner join {values} as checked
                on
                    checked.identifier_kind = ids.identifier_kind
                    and checked.identifier_hash = ids.identifier_hash
        """
    try:
        create_temporary_table(
            session, HOLDERS_TABLE, _holders_query(records, identifiers, links, blocklist, cap)
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
    return _sorted(values)


def _sorted(values: pd.DataFrame) -> pd.DataFrame:
    """The verdicts typed and in the resolution's order: reason, most groups first, hash."""
    return _frame(
        values.sort_values(
            ["reason", "distinct_groups", "identifier_hash"], ascending=[True, False, True]
        )
    )


def _stored(guarded: pd.DataFrame, built_at: datetime, config: str) -> pd.DataFrame:
    """The verdicts (a typed frame, :func:`_frame`) as the model stores them:
    ``identifier_kind`` for ``kind``, and the run's time and configuration on every row."""
    stored = guarded.rename(columns={"kind": "identifier_kind"})
    stored[BUILT_AT] = np.full(len(stored), utc_stamp(built_at))
    stored[CONFIG] = pd.Series([config] * len(stored), dtype=stored["reason"].dtype)
    return stored


def guard_config(blocklist: frozenset[str], max_customers_per_identifier: int) -> str:
    """What the verdicts depend on besides the data (the normalized blocklist and the
    cap) as a digest, stored with them: a run with another one checks every value."""
    text = "\n".join([str(checked_cap(max_customers_per_identifier)), *sorted(blocklist)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class GuardRun:
    """What a guard run computed: ``rows``, the verdicts as stored; ``changed`` records
    and ``checked`` values around them, or None when every value was checked."""

    rows: pd.DataFrame
    changed: int | None
    checked: int | None

    def summary(self) -> str:
        guarded = f"{len(self.rows)} values guarded"
        if self.checked is None:
            return f"guards: every value checked; {guarded}"
        return (
            f"guards: {self.checked} values re-checked around {self.changed} changed "
            f"records; {guarded}"
        )


def _timestamp(value: datetime) -> str:
    return f"cast('{value.isoformat(sep=' ')}' as timestamp)"


def _watermark(session: Any, previous: str | None, config: str) -> datetime | None:
    """When the stored verdicts were computed, or None when they cannot be the start of
    a partial run: none stored, a table from before the columns, no row to tell the time,
    another configuration."""
    if previous is None:
        return None
    columns = _columns(session, previous)
    if BUILT_AT not in columns or CONFIG not in columns:
        return None
    row = to_arrow(
        session.sql(
            f"select max(stored.{BUILT_AT}) as since, min(stored.{CONFIG}) as low,"
            f" max(stored.{CONFIG}) as high from ({previous}) as stored"
        )
    ).to_pylist()[0]
    if row["since"] is None or row["low"] != config or row["high"] != config:
        return None
    return row["since"]


def _changed_records(fingerprints: str, record_changes: str, since: datetime) -> str:
    """Records whose guard inputs changed after ``since``: fingerprint rows written since
    (new records, changed rows, values, links in either direction, values normalized
    again) and records logged since (the deleted ones too)."""
    return f"""
        select fingerprints.record_key
        from {_from(fingerprints, "fingerprints")}
        where fingerprints._built_at > {_timestamp(since)}
        union
        select changes.record_table || ':' || cast(changes.record_id as varchar)
        from {_from(record_changes, "changes")}
        where changes.logged_at > {_timestamp(since)}
    """


def _values_to_check(records: str, identifiers: str, previous: str) -> str:
    """The values a partial run checks: those a record of the closure holds, and the
    stored ones now held by another number of records (one lost a holder that changed)."""
    return f"""
        with stored as (
            select * from {_from(previous, "stored")}
        ),

        holders as (
            select
                ids.identifier_kind,
                ids.identifier_hash,
                count(distinct ids.record_key) as records
            from {_from(identifiers, "ids")}
            inner join stored
                on
                    stored.identifier_kind = ids.identifier_kind
                    and stored.identifier_hash = ids.identifier_hash
            where ids.record_key in (select known.record_key from {_from(records, "known")})
            group by ids.identifier_kind, ids.identifier_hash
        )

        select ids.identifier_kind, ids.identifier_hash
        from {_from(identifiers, "ids")}
        where
            ids.identifier_hash is not null
            and ids.record_key in (select affected.record_key from {AFFECTED_TABLE} as affected)
        union
        select stored.identifier_kind, stored.identifier_hash
        from stored
        left join holders
            on
                holders.identifier_kind = stored.identifier_kind
                and holders.identifier_hash = stored.identifier_hash
        where holders.records is null or holders.records <> stored.records
    """


def run_guards(
    session: Any,
    records: str,
    identifiers: str,
    links: str,
    blocklist: frozenset[str],
    max_customers_per_identifier: int,
    built_at: datetime,
    *,
    previous: str | None = None,
    fingerprints: str | None = None,
    record_changes: str | None = None,
    max_share: float = 0.25,
) -> GuardRun:
    """The verdicts on every value, computed from the stored ones where possible.

    ``previous`` is the stored verdicts (the model's table; None on a first run or a
    full refresh), ``fingerprints`` int_identity__record_fingerprints and
    ``record_changes`` int_identity__record_changes. The records whose inputs changed
    after the stored verdicts' ``_built_at`` are closed under the links (any link row,
    also one to a record that is gone); the values a record of the closure holds are
    checked, and so are the guarded values now held by another number of records than
    stored. Every other value keeps its stored verdict (none: not guarded). Every value
    is checked on a first run, under another blocklist or cap, without a stored row to
    date the verdicts, or when the closure passes ``max_share`` of the records (0:
    always).

    Why a value no record of the closure holds keeps its verdict: it gained no holder (a
    record that gained it, or appeared, has a new fingerprint row and is in the closure),
    and a holder it lost (one that changed or disappeared: logged) only lowers its count,
    which a guarded value is checked for and which cannot guard one that was not. Each
    remaining holder keeps its link-group: a group gains a record or a link only through
    a changed record (both ends of a changed link get a new fingerprint), and every part
    of a group that lost a link or a record holds an end of that link or a record linked
    to the one that disappeared, which the closure reaches. Same holders, same groups,
    same verdict and counts.
    """
    cap = checked_cap(max_customers_per_identifier)
    config = guard_config(blocklist, cap)
    since = _watermark(session, previous, config)
    if since is not None and max_share > 0 and fingerprints and record_changes:
        assert previous is not None  # the watermark is the stored verdicts'
        total = _count(session, records)
        try:
            changed, size, _ = grow(
                session,
                AFFECTED_TABLE,
                _changed_records(fingerprints, record_changes, since),
                lambda frontier: _link_neighbours(links, AFFECTED_TABLE, frontier),
                max_share * max(total, 1),
            )
            if size >= 0:
                create_temporary_table(
                    session, VALUES_TABLE, _values_to_check(records, identifiers, previous)
                )
                checked = _count(session, f"select * from {VALUES_TABLE}")
                guarded = warehouse_guarded_identifiers(
                    session, records, identifiers, links, blocklist, cap, values=VALUES_TABLE
                )
                kept = to_arrow(
                    session.sql(
                        f"""
                        select stored.*
                        from {_from(previous, "stored")}
                        left join {VALUES_TABLE} as checked
                            on
                                checked.identifier_kind = stored.identifier_kind
                                and checked.identifier_hash = stored.identifier_hash
                        where checked.identifier_hash is null
                        """
                    )
                ).rename_columns(
                    {"identifier_kind": "kind"}  # type: ignore[arg-type]
                )
                merged = pd.concat(
                    [guarded, kept.select(list(GUARDED_COLUMNS)).to_pandas()], ignore_index=True
                )
                return GuardRun(_stored(_sorted(merged), built_at, config), changed, checked)
        finally:
            session.execute(f"drop table if exists {VALUES_TABLE}")
            session.execute(f"drop table if exists {AFFECTED_TABLE}")
    guarded = warehouse_guarded_identifiers(session, records, identifiers, links, blocklist, cap)
    return GuardRun(_stored(guarded, built_at, config), None, None)
