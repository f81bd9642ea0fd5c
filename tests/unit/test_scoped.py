"""Scoped identity resolution (bitrix_omni.scoped) gives the rows a whole-graph run gives.

The worlds are small random graphs; the second world is the first with random edits
(records added and removed, e-mails and phones added and removed, links added and
removed, changed first-seen times, a different cap). The registry of the first world is
the stored state; the second is resolved once scoped and once whole, in an in-memory
DuckDB (the session a dbt-duckdb Python model gets), and both must write the same rows.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bitrix_omni import pipeline
from bitrix_omni.frames import to_arrow
from bitrix_omni.guards import (
    AFFECTED_TABLE,
    VALUES_TABLE,
    run_guards,
    warehouse_guarded_identifiers,
)
from bitrix_omni.scoped import (
    SCOPE_TABLE,
    Relations,
    create_temporary_table,
    grow,
    run_resolution,
)

KEYS = [f"b_user:{i}" for i in range(6)] + [f"b_sale_order:{i}" for i in range(6)]
VALUES = [
    ("email", "a@mail.ru"),
    ("email", "b@mail.ru"),
    ("email", "c@mail.ru"),
    ("email", "junk@mail.ru"),
    ("phone", "+79151234567"),
    ("phone", "+79151234568"),
    ("phone", "not a phone"),
]
TIMES = ["2024-01-01", "2024-01-02", "2024-01-03", None]
AT = [dt.datetime(2024, 6, 1, h, tzinfo=dt.timezone.utc) for h in (10, 11, 12)]

#: The dbt models int_identity__record_fingerprints and int_identity__guard_fingerprints,
#: on DuckDB.
FINGERPRINTS = """
    with input_rows as (
        select record_key, hash('record', source_table, source_id, first_seen_at,
                                last_seen_at) as row_hash
        from records
        union all
        select record_key, hash('identifier', identifier_kind, identifier_hash)
        from identifiers
        where is_valid
        union all
        select record_key, hash('link to', other_record_key) from links
        union all
        select other_record_key, hash('link from', record_key) from links
    )
    select r.record_key, cast(sum(row_hash) % 9223372036854775807 as bigint) as input_fingerprint
    from records as r inner join input_rows using (record_key)
    group by r.record_key
"""


GUARD_FINGERPRINTS = """
    select i.record_key,
           cast(sum(hash('verdict', i.identifier_kind, i.identifier_hash, g.reason))
                % 9223372036854775807 as bigint) as guard_fingerprint
    from identifiers as i
    inner join guarded as g
        on i.identifier_kind = g.identifier_kind and i.identifier_hash = g.identifier_hash
    where i.is_valid
    group by i.record_key
"""


@st.composite
def worlds(draw: st.DrawFn) -> dict[str, object]:
    """A world: records, raw identifier rows, links and the guard cap."""
    keys = draw(st.lists(st.sampled_from(KEYS), unique=True, max_size=len(KEYS)))
    records = [(k, draw(st.sampled_from(TIMES))) for k in keys]
    pool = [*keys, "a_gone:404"]  # an unknown record for dangling rows
    identifiers = draw(
        st.lists(st.tuples(st.sampled_from(pool), st.sampled_from(VALUES)), max_size=16)
    )
    links = draw(st.lists(st.tuples(st.sampled_from(pool), st.sampled_from(pool)), max_size=8))
    return {
        "records": records,
        "identifiers": identifiers,
        "links": links,
        "cap": draw(st.integers(1, 3)),
    }


@st.composite
def edited(draw: st.DrawFn, world: dict[str, object]) -> dict[str, object]:
    """The world with a few random edits."""
    out: dict[str, object] = {}
    for part in ("records", "identifiers", "links"):
        rows = list(world[part])  # type: ignore[call-overload]
        out[part] = [r for r in rows if draw(st.integers(0, 3)) > 0]  # a quarter dropped
    known = [k for k, _ in out["records"]]  # type: ignore[attr-defined]
    new_keys = [k for k in KEYS if k not in known]
    for key in (
        draw(st.lists(st.sampled_from(new_keys), unique=True, max_size=2)) if new_keys else []
    ):
        out["records"].append((key, draw(st.sampled_from(TIMES))))  # type: ignore[attr-defined]
    if out["records"] and draw(st.booleans()):  # a changed first-seen time
        i = draw(st.integers(0, len(out["records"]) - 1))  # type: ignore[arg-type]
        key, _ = out["records"][i]  # type: ignore[index]
        out["records"][i] = (key, draw(st.sampled_from(TIMES)))  # type: ignore[index]
    pool = [k for k, _ in out["records"]] + ["a_gone:404"]  # type: ignore[attr-defined]
    out["identifiers"] += draw(  # type: ignore[operator]
        st.lists(st.tuples(st.sampled_from(pool), st.sampled_from(VALUES)), max_size=3)
    )
    out["links"] += draw(  # type: ignore[operator]
        st.lists(st.tuples(st.sampled_from(pool), st.sampled_from(pool)), max_size=2)
    )
    out["cap"] = draw(st.sampled_from([world["cap"], world["cap"], 1, 2]))
    return out


def _load(con: duckdb.DuckDBPyConnection, world: dict[str, object]) -> None:
    """The world's dbt inputs as tables (records, identifiers, links, guarded,
    fingerprints), as the upstream models build them."""
    text, when = pa.large_string(), pa.timestamp("us")
    rows = sorted(world["records"])  # type: ignore[call-overload]
    records = pa.table(
        {
            "record_key": pa.array([k for k, _ in rows], text),
            "source_table": pa.array([k.split(":")[0] for k, _ in rows], text),
            "source_id": pa.array([int(k.split(":")[1]) for k, _ in rows], pa.int64()),
            "first_seen_at": pa.array([pd.Timestamp(t) if t else None for _, t in rows], when),
            "last_seen_at": pa.array([pd.Timestamp(t) if t else None for _, t in rows], when),
        }
    )
    raw_rows = sorted(set(world["identifiers"]))  # type: ignore[call-overload]
    raw = pa.table(
        {
            "record_key": pa.array([k for k, _ in raw_rows], text),
            "identifier_kind": pa.array([v[0] for _, v in raw_rows], text),
            "value_raw": pa.array([v[1] for _, v in raw_rows], text),
            "evidence": pa.array(["b_user.EMAIL"] * len(raw_rows), text),
        }
    )
    identifiers = pipeline.normalize_identifiers(raw)
    link_rows = sorted(set(world["links"]))  # type: ignore[call-overload]
    links = pa.table(
        {
            "record_key": pa.array([a for a, _ in link_rows], text),
            "other_record_key": pa.array([b for _, b in link_rows], text),
            "evidence": pa.array(["b_sale_order.USER_ID"] * len(link_rows), text),
        }
    )
    guarded = pa.Table.from_pandas(
        pipeline.guarded_identifiers(
            identifiers,
            links,
            records,
            frozenset({"junk@mail.ru"}),
            int(world["cap"]),  # type: ignore[call-overload]
        ),
        preserve_index=False,
    )
    for name, frame in (
        ("records", records),
        ("identifiers", identifiers),
        ("links", links),
        ("guarded", guarded),
    ):
        con.register("frame", frame)
        con.execute(f"create or replace table {name} as select * from frame")
        con.unregister("frame")
    con.execute(f"create or replace table fingerprints as {FINGERPRINTS}")
    con.execute(f"create or replace table guard_fingerprints as {GUARD_FINGERPRINTS}")


def _relations(registry: str | None) -> Relations:
    return Relations(
        records="select * from records",
        identifiers="select * from identifiers",
        links="select * from links",
        guarded="select * from guarded",
        fingerprints="select * from fingerprints",
        guard_fingerprints="select * from guard_fingerprints",
        registry=registry,
    )


def _run(
    con: duckdb.DuckDBPyConnection,
    world: dict[str, object],
    at: dt.datetime,
    max_share: float,
    registry: str | None,
) -> pa.Table:
    run = run_resolution(
        con,
        _relations(registry),
        frozenset({"junk@mail.ru"}),
        int(world["cap"]),  # type: ignore[call-overload]
        at,
        max_share,
    )
    return run.rows


def _store(con: duckdb.DuckDBPyConnection, name: str, rows: pa.Table, base: str | None) -> None:
    """delete+insert on record_key into a copy of ``base``, as the incremental model."""
    if base is None:
        con.execute(f"create or replace table {name} as select * from rows")
        return
    con.execute(
        f"create or replace table {name} as select * from {base} "
        "where record_key not in (select record_key from rows) "
        "union all by name select * from rows"
    )


def _table(con: duckdb.DuckDBPyConnection, name: str) -> list[tuple[object, ...]]:
    return con.sql(f"select * exclude (resolved_at) from {name} order by record_key").fetchall()


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.data())
def test_scoped_resolution_writes_what_the_whole_graph_writes(data: st.DataObject) -> None:
    first = data.draw(worlds())
    second = data.draw(edited(first))
    third = data.draw(edited(second))
    con = duckdb.connect()
    _load(con, first)
    _store(con, "stored", _run(con, first, AT[0], 1.0, None), None)
    for world, at in ((second, AT[1]), (third, AT[2])):
        _load(con, world)
        scoped = _run(con, world, at, 1.0, "select * from stored")
        whole = _run(con, world, at, 0.0, "select * from stored")
        # The same rows are written (compared by content, in record_key order).
        key = pc.sort_indices(scoped, [("record_key", "ascending")])
        key_whole = pc.sort_indices(whole, [("record_key", "ascending")])
        assert scoped.take(key).to_pylist() == whole.take(key_whole).to_pylist()
        _store(con, "stored_next", scoped, "stored")
        con.execute("create or replace table stored as select * from stored_next")
        # Nothing is left to do: a further run of either kind writes nothing.
        assert _run(con, world, at, 1.0, "select * from stored").num_rows == 0
        assert _run(con, world, at, 0.0, "select * from stored").num_rows == 0
        assert (
            con.sql(f"select * from duckdb_tables() where table_name = '{SCOPE_TABLE}'").fetchall()
            == []
        )


def test_a_small_change_resolves_a_small_scope() -> None:
    """Two customers among many: a new order joining one of them re-resolves that
    customer only, and a registry without fingerprints is resolved whole once."""
    world = {
        "records": [(f"b_user:{i}", "2024-01-01") for i in range(6)],
        "identifiers": [(f"b_user:{i}", VALUES[i % 3]) for i in range(6)],
        "links": [],
        "cap": 5,
    }
    con = duckdb.connect()
    _load(con, world)
    first = run_resolution(con, _relations(None), frozenset(), 5, AT[0])
    assert first.scope is None and first.rows.num_rows == 6
    _store(con, "stored", first.rows, None)
    world["records"].append(("b_sale_order:1", "2024-01-02"))  # type: ignore[attr-defined]
    world["identifiers"].append(("b_sale_order:1", VALUES[0]))  # type: ignore[attr-defined]
    _load(con, world)
    second = run_resolution(con, _relations("select * from stored"), frozenset(), 5, AT[1], 1.0)
    # The order and the two users holding a@mail.ru; one round reaches the users.
    assert (second.seeds, second.scope) == (1, 3)
    assert sorted(second.rows["record_key"].to_pylist()) == [
        "b_sale_order:1",
        "b_user:0",
        "b_user:3",
    ]
    assert "3 of 7 records, the customers around 1 changed" in second.summary()
    _store(con, "after", second.rows, "stored")
    again = run_resolution(con, _relations("select * from after"), frozenset(), 5, AT[2], 1.0)
    assert again.summary().endswith("no record of 7 changed; 0 registry rows written")
    # Larger than the share allowed: the whole graph, with the same rows.
    whole = run_resolution(con, _relations("select * from stored"), frozenset(), 5, AT[1], 0.1)
    assert whole.scope is None and whole.seeds == 1
    assert sorted(whole.rows.to_pylist(), key=str) == sorted(second.rows.to_pylist(), key=str)
    # A registry from before fingerprints: resolved whole, every row gets its fingerprint.
    con.execute("create table old as select * exclude (_input_fingerprint) from stored")
    upgraded = run_resolution(con, _relations("select * from old"), frozenset(), 5, AT[1], 1.0)
    assert upgraded.scope is None and upgraded.rows.num_rows == 7
    assert upgraded.rows["_input_fingerprint"].null_count == 0


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_records_that_disappear_are_marked_gone(share: float) -> None:
    world = {
        "records": [("b_user:1", "2024-01-01"), ("b_user:2", "2024-01-02")],
        "identifiers": [("b_user:1", VALUES[0]), ("b_user:2", VALUES[0])],
        "links": [],
        "cap": 5,
    }
    con = duckdb.connect()
    _load(con, world)
    _store(con, "stored", _run(con, world, AT[0], share, None), None)
    world["records"] = [("b_user:2", "2024-01-02")]
    world["identifiers"] = [("b_user:2", VALUES[0])]
    _load(con, world)
    rows = to_arrow(_run(con, world, AT[1], share, "select * from stored")).to_pylist()
    by_key = {r["record_key"]: r for r in rows}
    assert by_key["b_user:1"]["is_current"] is False
    assert by_key["b_user:2"]["component_size"] == 1


def _warehouse_guard(con: duckdb.DuckDBPyConnection, blocklist: frozenset[str], cap: int):  # type: ignore[no-untyped-def]
    return warehouse_guarded_identifiers(
        con,
        "select * from records",
        "select * from identifiers",
        "select * from links",
        blocklist,
        cap,
    )


@SETTINGS
@given(worlds())
def test_warehouse_guard_equals_the_guard_step(world: dict[str, object]) -> None:
    """The guards computed in the warehouse give guard_identifiers' frame."""
    con = duckdb.connect()
    _load(con, world)  # its `guarded` table is pipeline.guarded_identifiers'
    found = _warehouse_guard(con, frozenset({"junk@mail.ru"}), int(world["cap"]))  # type: ignore[call-overload]
    expected = con.sql("select * from guarded").df().rename(columns={"identifier_kind": "kind"})
    pd.testing.assert_frame_equal(found, expected, check_dtype=False)
    assert list(found.dtypes[["distinct_groups", "records"]]) == ["int64", "int64"]


def test_warehouse_guard_without_guarded_values_keeps_column_types() -> None:
    """No value to guard: an empty frame whose text columns are still text (a table of
    NULL-typed columns would break the models reading it)."""
    world = {"records": [("b_user:1", None)], "identifiers": [], "links": [], "cap": 1}
    con = duckdb.connect()
    _load(con, world)
    found = _warehouse_guard(con, frozenset(), 1)
    con.register("found", found)
    types = dict(con.sql("select column_name, column_type from (describe found)").fetchall())
    assert found.empty and types["identifier_hash"] == "VARCHAR"
    assert types["records"] == "BIGINT"


def test_warehouse_guard_does_not_join_groups_through_unknown_records() -> None:
    """Two users linked to the same deleted record are still two link-groups (a dangling
    link joins nothing), so their shared e-mail is over-shared at a cap of one."""
    world = {
        "records": [("b_user:1", None), ("b_user:2", None)],
        "identifiers": [("b_user:1", VALUES[0]), ("b_user:2", VALUES[0])],
        "links": [("b_user:1", "a_gone:404"), ("a_gone:404", "b_user:2")],
        "cap": 1,
    }
    con = duckdb.connect()
    _load(con, world)
    found = _warehouse_guard(con, frozenset(), 1)
    assert found[["reason", "distinct_groups", "records"]].values.tolist() == [
        ["over_shared", 2, 2]
    ]


@pytest.mark.parametrize("cap", [0, -1, 2.5, True])
def test_warehouse_guard_rejects_a_cap_the_guard_step_rejects(cap: object) -> None:
    """A cap below one (or not an int) is a configuration error, as in IdentityConfig."""
    world = {"records": [("b_user:1", None)], "identifiers": [], "links": [], "cap": 1}
    con = duckdb.connect()
    _load(con, world)
    with pytest.raises(ValueError, match="max_customers_per_identifier must be an int >= 1"):
        _warehouse_guard(con, frozenset(), cap)  # type: ignore[arg-type]


def _guard_run(  # type: ignore[no-untyped-def]
    con: duckdb.DuckDBPyConnection,
    cap: int,
    at: dt.datetime,
    previous: str | None,
    max_share: float = 100.0,  # no limit: the closure may count records that are gone
):
    return run_guards(
        con,
        "select * from records",
        "select * from identifiers",
        "select * from links",
        frozenset({"junk@mail.ru"}),
        cap,
        at + dt.timedelta(minutes=30),  # the guard runs after the run's start
        previous=previous,
        fingerprints="select * from stamped_fingerprints",
        record_changes="select * from logged_changes",
        max_share=max_share,
    )


def _stamp_changes(
    con: duckdb.DuckDBPyConnection,
    stamps: dict[str, tuple[int, dt.datetime]],
    log: list[tuple[str, int, dt.datetime]],
    at: dt.datetime,
) -> None:
    """The stamps int_identity__record_fingerprints and int_identity__record_changes
    would hold after the run at ``at``, at their least: a fingerprint row is rewritten
    only when its number changed, and only records that disappeared are logged."""
    current = dict(con.sql("select record_key, input_fingerprint from fingerprints").fetchall())
    naive = at.replace(tzinfo=None)
    for key in sorted(set(stamps) - set(current)):
        table, record_id = key.split(":")
        log.append((table, int(record_id), naive))
        del stamps[key]
    for key, number in current.items():
        if key not in stamps or stamps[key][0] != number:
            stamps[key] = (number, naive)
    con.execute(
        "create or replace table stamped_fingerprints (record_key varchar,"
        " input_fingerprint bigint, _built_at timestamp)"
    )
    for key, (number, when) in stamps.items():
        con.execute("insert into stamped_fingerprints values (?, ?, ?)", [key, number, when])
    con.execute(
        "create or replace table logged_changes (record_table varchar, record_id bigint,"
        " logged_at timestamp)"
    )
    for row in log:
        con.execute("insert into logged_changes values (?, ?, ?)", list(row))


def _verdicts(frame: pd.DataFrame) -> list[tuple[object, ...]]:
    return sorted(map(tuple, frame.drop(columns=["_built_at"]).astype(str).values.tolist()))


@SETTINGS
@given(st.data())
def test_guards_rechecking_some_values_give_a_whole_run(data: st.DataObject) -> None:
    """Run after run over random edits, the guards computed from the stored verdicts
    (only the values around the changed records, and the guarded ones whose holder count
    changed) equal the guards computed from nothing; every value is checked when the cap
    changed or no verdict was stored."""
    worlds_ = [data.draw(worlds())]
    worlds_ += [data.draw(edited(worlds_[-1])) for _ in range(2)]
    con = duckdb.connect()
    stamps: dict[str, tuple[int, dt.datetime]] = {}
    log: list[tuple[str, int, dt.datetime]] = []
    cap = None
    for world, at in zip(worlds_, AT, strict=True):
        _load(con, world)
        _stamp_changes(con, stamps, log, at)
        stored = (
            con.sql("select * from stored_guards").df()
            if "stored_guards" in {r[0] for r in con.sql("show tables").fetchall()}
            else None
        )
        partial = _guard_run(
            con,
            int(world["cap"]),
            at,
            "select * from stored_guards" if stored is not None else None,  # type: ignore[call-overload]
        )
        whole = _guard_run(con, int(world["cap"]), at, None)  # type: ignore[call-overload]
        assert _verdicts(partial.rows) == _verdicts(whole.rows)
        expected = con.sql("select * from guarded").df().rename(columns={"identifier_kind": "kind"})
        assert len(whole.rows) == len(expected)
        rechecked = stored is not None and len(stored) > 0 and world["cap"] == cap
        assert (partial.checked is not None) == rechecked, partial.summary()
        assert whole.checked is None
        con.register("rows", partial.rows)
        con.execute("create or replace table stored_guards as select * from rows")
        con.unregister("rows")
        cap = world["cap"]
    for table in (AFFECTED_TABLE, VALUES_TABLE):
        assert (
            con.sql(f"select * from duckdb_tables() where table_name = '{table}'").fetchall() == []
        )


@pytest.mark.parametrize("split", ["link removed", "order gone"])
def test_guards_see_a_group_split_away_from_the_holders(split: str) -> None:
    """Two users share an e-mail (cap one) and are one link-group through two linked
    orders; a blocklisted value dates the stored verdicts (an empty table cannot). The
    group then splits with no holder changing: the orders' link is removed (the orders get
    new fingerprints), or an order disappears and its link rows stay (dangling: no
    fingerprint changes, only the log names it). The closure from the changed records
    reaches both users, whose e-mail is now over-shared."""
    world = {
        "records": [
            (k, None) for k in ("b_user:1", "b_user:2", "b_sale_order:1", "b_sale_order:2")
        ],
        "identifiers": [("b_user:1", VALUES[0]), ("b_user:2", VALUES[0]), ("b_user:2", VALUES[3])],
        "links": [
            ("b_sale_order:1", "b_user:1"),
            ("b_sale_order:1", "b_sale_order:2"),
            ("b_sale_order:2", "b_user:2"),
        ],
        "cap": 1,
    }
    con = duckdb.connect()
    stamps: dict[str, tuple[int, dt.datetime]] = {}
    log: list[tuple[str, int, dt.datetime]] = []
    _load(con, world)
    _stamp_changes(con, stamps, log, AT[0])
    first = _guard_run(con, 1, AT[0], None)
    assert list(first.rows["reason"]) == ["blocklisted"]
    con.register("first_rows", first.rows)
    con.execute("create table stored_guards as select * from first_rows")
    if split == "link removed":
        world["links"] = [link for link in world["links"] if link[1] != "b_sale_order:2"]  # type: ignore[attr-defined]
    else:
        world["records"] = [r for r in world["records"] if r[0] != "b_sale_order:1"]  # type: ignore[attr-defined]
    _load(con, world)
    _stamp_changes(con, stamps, log, AT[1])
    found = _guard_run(con, 1, AT[1], "select * from stored_guards")
    assert found.checked is not None and found.changed == (2 if split == "link removed" else 1)
    assert sorted(found.rows["reason"]) == ["blocklisted", "over_shared"]
    # past the share of records allowed, or at 0: every value, the same verdicts
    for share in (0.1, 0.0):
        whole = _guard_run(con, 1, AT[1], "select * from stored_guards", max_share=share)
        assert whole.checked is None
        assert _verdicts(whole.rows) == _verdicts(found.rows)
    if split == "order gone":  # only the log shows it
        con.execute("delete from logged_changes")
        blind = _guard_run(con, 1, AT[1], "select * from stored_guards")
        assert list(blind.rows["reason"]) == ["blocklisted"]


class RecordingSession:
    """A DuckDB connection as a Python model's session, recording what `execute` runs."""

    def __init__(self) -> None:
        self.connection = duckdb.connect()
        self.statements: list[str] = []

    def execute(self, statement: str) -> None:
        self.statements.append(" ".join(statement.split()))
        self.connection.execute(statement)

    def sql(self, query: str):
        return self.connection.sql(query)


def test_temporary_tables_are_analyzed() -> None:
    """PostgreSQL never analyzes a temporary table by itself, and a planner without its
    statistics took the guards' candidates for one row (a nested loop over every record
    for each): the temporary tables are analyzed once created and once grown."""
    session = RecordingSession()
    create_temporary_table(session, "made", "select 'b_user:1' as record_key")
    assert session.statements[-1] == "analyze made"
    first, size, rounds = grow(
        session,
        "grown",
        "select 'b_user:1' as record_key",
        lambda frontier: (
            f"select 'b_user:2' as record_key where exists (select 1 from grown where {frontier})"
        ),
    )
    assert (first, size, rounds) == (1, 2, 1)
    assert session.statements[-1] == "analyze grown"
