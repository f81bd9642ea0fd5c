"""Identity resolution of the components a change touched, not of the whole graph.

An hourly run sees a few thousand changed records among millions. Resolving the whole
graph again costs the same as the first run; this module resolves only the part that can
have changed and gives those records exactly the rows a whole-graph resolution gives them
(a property test in ``tests/unit/test_scoped.py`` compares the two).

Which part? Every record has a fingerprint of what resolution reads about it: its record
row, its e-mails and phones and its links in both directions
(``int_identity__record_fingerprints``), plus the guards' verdict on each of its values
(``int_identity__guard_fingerprints``, which alone waits for the guards); the registry
keeps the fingerprint each record was last resolved with. The *seeds* are the records whose
fingerprint changed, the new ones and those that disappeared. The *scope* is the closure
of the seeds under

* the current graph: links, and e-mails/phones the guards let through (all holders of
  such a value are one customer, so all of them are in or none);
* the previous customers: all current records of a customer in the registry.

The scope is then a union of whole current customers and whole previous customers, so a
record outside it keeps its customer and its row. Inside, resolution runs as usual with
two inputs from the whole graph: the guards' verdicts (an identifier's other holders may
be outside the scope, so its count there would be too low) and the uuids held outside
(so that a minted uuid never takes one). A changed verdict changes the fingerprint of
every holder of the value, so the components it joins or splits are seeds too.

The closure runs in the warehouse (a few joins per round against a temporary table of
the scope), so only the scope's rows are read into Python. When the seeds or the scope
exceed ``max_share`` of the records, the whole graph is resolved instead: it is then
cheaper, and it is what a first run, a new normalizer or a new cap amounts to anyway.

Everything here speaks to ``session`` only through ``sql(query)`` (rows, any frame
:func:`bitrix_omni.frames.to_arrow` reads) and ``execute(statement)``: a DuckDB
connection as dbt-duckdb hands it to a Python model, or the PostgreSQL plugin's session.
Relations are given as SQL queries (``select * from ...``), so that the same statements
run on both.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from bitrix_omni.frames import to_arrow
from bitrix_omni.pipeline import (
    FINGERPRINT_COLUMN,
    IDENTIFIER_INPUT_COLUMNS,
    LINK_INPUT_COLUMNS,
    RECORD_INPUT_COLUMNS,
    registry_frame,
    resolve,
)

__all__ = ["Relations", "ResolutionRun", "run_resolution"]

#: The temporary table that holds the scope while a run computes it.
SCOPE_TABLE = "bitrix_omni_resolution_scope"


@dataclass(frozen=True)
class Relations:
    """The relations a resolution reads, each as a SQL query (``select * from ...``)."""

    records: str
    identifiers: str  # int_identity__normalized_identifiers
    links: str
    guarded: str  # int_identity__guarded_identifiers: the whole graph's verdicts
    fingerprints: str  # int_identity__record_fingerprints
    guard_fingerprints: str  # int_identity__guard_fingerprints
    registry: str | None  # the registry as stored (None: first run)


@dataclass(frozen=True)
class ResolutionRun:
    """What a run resolved: ``scope`` records (``None``: the whole graph) of ``records``,
    ``seeds`` of them because their inputs changed; ``rows`` the registry rows written."""

    rows: pa.Table
    records: int
    seeds: int | None
    scope: int | None
    rounds: int

    def summary(self) -> str:
        if self.scope is None:
            how = f"the whole graph of {self.records} records"
            if self.seeds is not None:
                how += f" ({self.seeds} changed)"
        elif self.seeds == 0:
            how = f"no record of {self.records} changed"
        else:
            how = (
                f"{self.scope} of {self.records} records, the customers around "
                f"{self.seeds} changed (closed in {self.rounds} rounds)"
            )
        return f"identity resolution: {how}; {self.rows.num_rows} registry rows written"


def _from(query: str, alias: str) -> str:
    return f"({query}) as {alias}"


def _count(session: Any, query: str) -> int:
    return int(
        to_arrow(session.sql(f"select count(*) as n from ({query}) as counted"))[0][0].as_py()
    )


def _columns(session: Any, query: str) -> list[str]:
    return list(to_arrow(session.sql(f"select * from ({query}) as probe limit 0")).column_names)


#: The fingerprints of a record, joined as ``fingerprints`` and ``guards``: the registry
#: keeps this value. Added as decimals (two bigints may overflow), only for the few records
#: with a guard fingerprint: the decimal sum of every record was most of the seeds' query
#: (the record's own number is already below the modulus).
_FINGERPRINT = (
    "case when guards.guard_fingerprint is null then fingerprints.input_fingerprint"
    " else cast((cast(fingerprints.input_fingerprint as decimal(38, 0))"
    " + guards.guard_fingerprint) % 9223372036854775807 as bigint) end"
)


def _fingerprints(rel: Relations) -> str:
    """record_key and the fingerprint the registry keeps, per current record."""
    return f"""
        select fingerprints.record_key, {_FINGERPRINT} as input_fingerprint
        from {_from(rel.fingerprints, "fingerprints")}
        left join {_from(rel.guard_fingerprints, "guards")}
            on guards.record_key = fingerprints.record_key
    """


def _in_scope(column: str) -> str:
    return f"{column} in (select record_key from {SCOPE_TABLE})"


def _seed_query(rel: Relations) -> str:
    """Records whose fingerprint differs from the one they were resolved with (new ones,
    changed ones, ones that came back), and resolved records that disappeared."""
    assert rel.registry is not None
    return f"""
        select fingerprints.record_key
        from {_from(_fingerprints(rel), "fingerprints")}
        left join {_from(rel.registry, "built")}
            on built.record_key = fingerprints.record_key
        where
            built.record_key is null
            or not built.is_current
            or built.{FINGERPRINT_COLUMN} is null
            or built.{FINGERPRINT_COLUMN} <> fingerprints.input_fingerprint
        union
        select built.record_key
        from {_from(rel.registry, "built")}
        left join {_from(rel.fingerprints, "fingerprints")}
            on fingerprints.record_key = built.record_key
        where built.is_current and fingerprints.record_key is null
    """


def _link_neighbours(links: str, table: str, frontier: str) -> str:
    """Records linked to the frontier rows of ``table`` (both directions)."""
    return f"""
            select links.other_record_key as record_key
            from {table}
            inner join {_from(links, "links")}
                on links.record_key = {table}.record_key
            where {frontier}
            union all
            select links.record_key
            from {table}
            inner join {_from(links, "links")}
                on links.other_record_key = {table}.record_key
            where {frontier}
    """


def _scope_neighbours(rel: Relations, table: str, frontier: str) -> str:
    """Records one edge away from the frontier: a shared value the guards let through, a
    link, or the same previous customer."""
    assert rel.registry is not None
    return f"""
            select other.record_key
            from {table}
            inner join {_from(rel.identifiers, "mine")}
                on mine.record_key = {table}.record_key
            inner join {_from(rel.identifiers, "other")}
                on
                    other.identifier_kind = mine.identifier_kind
                    and other.identifier_hash = mine.identifier_hash
            where
                {frontier}
                and mine.identifier_hash is not null
                and not exists (
                    select 1
                    from {_from(rel.guarded, "guarded")}
                    where
                        guarded.identifier_kind = mine.identifier_kind
                        and guarded.identifier_hash = mine.identifier_hash
                )
            union all
            {_link_neighbours(rel.links, table, frontier)}
            union all
            select same.record_key
            from {table}
            inner join {_from(rel.registry, "mine")}
                on mine.record_key = {table}.record_key
            inner join {_from(rel.registry, "same")}
                on same.customer_uuid = mine.customer_uuid
            where {frontier} and mine.is_current and same.is_current
    """


def grow(
    session: Any,
    table: str,
    seeds: str,
    neighbours: Callable[[str], str],
    limit: float = math.inf,
) -> tuple[int, int, int]:
    """Create the temporary table ``table`` (``record_key``, ``scope_round``) from the
    query ``seeds`` (its ``record_key`` column) and close it round by round under
    ``neighbours(frontier)``, a query of ``record_key`` given a condition on ``table``
    that selects the rows added in the last round (only those are expanded).

    Returns (seeds, final size, rounds); the size is -1 when it passed ``limit`` (the
    rounds stop there). The caller drops the table.
    """
    create_temporary_table(
        session, table, f"select seeds.record_key, 0 as scope_round from ({seeds}) as seeds"
    )
    first = _count(session, f"select * from {table}")
    size, rounds = first, 0
    while size and size <= limit:
        session.execute(
            f"""
            insert into {table} (record_key, scope_round)
            select distinct found.record_key, {rounds + 1}
            from ({neighbours(f"{table}.scope_round = {rounds}")}) as found
            where
                found.record_key is not null
                and not exists (
                    select 1 from {table} as known where known.record_key = found.record_key
                )
            """
        )
        added = _count(session, f"select * from {table} where scope_round = {rounds + 1}")
        if added == 0:
            break
        size, rounds = size + added, rounds + 1
    if rounds and size <= limit:  # past the limit the caller does not read the table
        session.execute(f"analyze {table}")
    return first, (size if size <= limit else -1), rounds


def create_temporary_table(session: Any, table: str, query: str) -> None:
    """``create temporary table <table> as <query>`` (replacing one left over), then
    ``analyze``: PostgreSQL's autovacuum never analyzes temporary tables, and without
    statistics the planner takes one for a few rows. The guards' holders query then
    chose a nested loop over every record for each candidate (65 s; 4 s analyzed, at 100k
    customers on an ordinary hour)."""
    session.execute(f"drop table if exists {table}")
    session.execute(f"create temporary table {table} as {query}")
    session.execute(f"analyze {table}")


def _select(query: str, columns: tuple[str, ...], where: str | None = None) -> str:
    listed = ", ".join(f"source.{c}" for c in columns)
    return f"select {listed} from {_from(query, 'source')}" + (f" where {where}" if where else "")


def _records_query(rel: Relations, where: str | None) -> str:
    """Records with their fingerprint, in record_key order (resolution skips its sort)."""
    listed = ", ".join(f"records.{c}" for c in RECORD_INPUT_COLUMNS)
    return f"""
        select {listed}, fingerprints.input_fingerprint as {FINGERPRINT_COLUMN}
        from {_from(rel.records, "records")}
        left join {_from(_fingerprints(rel), "fingerprints")}
            on fingerprints.record_key = records.record_key
        {f"where {where}" if where else ""}
        order by records.record_key
    """


def _drop_scope(session: Any) -> None:
    session.execute(f"drop table if exists {SCOPE_TABLE}")


def _scope(session: Any, rel: Relations, total: int, max_share: float) -> tuple[int, int, int]:
    """Build the scope table: (seeds, scope size, rounds), or scope -1 when it grew past
    ``max_share`` of ``total`` records (the caller resolves the whole graph)."""
    return grow(
        session,
        SCOPE_TABLE,
        _seed_query(rel),
        lambda frontier: _scope_neighbours(rel, SCOPE_TABLE, frontier),
        max_share * max(total, 1),
    )


def run_resolution(
    session: Any,
    rel: Relations,
    blocklist: frozenset[str],
    max_customers_per_identifier: int,
    resolved_at: datetime,
    max_share: float = 0.25,
) -> ResolutionRun:
    """The registry rows this run writes (see :func:`bitrix_omni.pipeline.registry_frame`),
    from the components the changes since the registry's last run touched, or from the
    whole graph on a first run, a registry without fingerprints, or a change larger than
    ``max_share`` of the records (0 always resolves the whole graph)."""
    total = _count(session, rel.records)
    scoped = (
        rel.registry is not None
        and max_share > 0
        and FINGERPRINT_COLUMN in _columns(session, rel.registry)
    )
    seeds = None
    if scoped:
        try:
            seeds, size, rounds = _scope(session, rel, total, max_share)
            if size >= 0:
                return ResolutionRun(
                    _resolve_scope(
                        session, rel, blocklist, max_customers_per_identifier, resolved_at
                    ),
                    total,
                    seeds,
                    size,
                    rounds,
                )
        finally:
            _drop_scope(session)
    records = to_arrow(session.sql(_records_query(rel, None)))
    previous = to_arrow(session.sql(rel.registry)) if rel.registry is not None else None
    result = resolve(
        records,
        to_arrow(session.sql(_select(rel.identifiers, IDENTIFIER_INPUT_COLUMNS))),
        to_arrow(session.sql(_select(rel.links, LINK_INPUT_COLUMNS))),
        blocklist,
        max_customers_per_identifier,
        _current(previous),
    )
    rows = registry_frame(result, records, previous, resolved_at)
    return ResolutionRun(rows, total, seeds, None, 0)


def _current(previous: pa.Table | None) -> pa.Table | None:
    if previous is None:
        return None
    return previous.filter(previous["is_current"]).select(["record_key", "customer_uuid"])


def _resolve_scope(
    session: Any,
    rel: Relations,
    blocklist: frozenset[str],
    max_customers_per_identifier: int,
    resolved_at: datetime,
) -> pa.Table:
    """Resolve the records of the scope table with the whole graph's guard verdicts and
    the uuids held outside the scope; their registry rows to write."""
    assert rel.registry is not None
    records = to_arrow(session.sql(_records_query(rel, _in_scope("records.record_key"))))
    identifiers = to_arrow(
        session.sql(
            _select(rel.identifiers, IDENTIFIER_INPUT_COLUMNS, _in_scope("source.record_key"))
        )
    )
    links = to_arrow(
        session.sql(
            _select(
                rel.links,
                LINK_INPUT_COLUMNS,
                f"{_in_scope('source.record_key')} or {_in_scope('source.other_record_key')}",
            )
        )
    )
    previous = to_arrow(
        session.sql(
            f"select * from ({rel.registry}) as built where {_in_scope('built.record_key')}"
        )
    )
    reserved = to_arrow(
        session.sql(
            f"select distinct built.customer_uuid from ({rel.registry}) as built "
            f"where built.is_current and not {_in_scope('built.record_key')}"
        )
    )
    guarded = to_arrow(session.sql(_select(rel.guarded, ("identifier_hash",))))
    result = resolve(
        records,
        identifiers,
        links,
        blocklist,
        max_customers_per_identifier,
        _current(previous),
        excluded_hashes=frozenset(h for h in guarded["identifier_hash"].to_pylist() if h),
        reserved_uuids=reserved,
    )
    return registry_frame(result, records, previous, resolved_at)
