"""Benchmark of the identity step (a script, not a test) against two baselines.

The identity step is what the dbt Python models run per build: normalization of raw
e-mails and phones (:func:`bitrix_omni.pipeline.normalize_identifiers`, dictionary
columns; in the dbt project the normalization cache model does this per new value and
the registry model reads plain columns, timed separately), then resolution
(:func:`bitrix_omni.pipeline.resolve`: encoding, guards, connected components, stable
uuids; no evidence, as in the dbt project). It is timed next to

* **sql**: the simplest correct alternative a user might write: iterative min-label
  propagation over the same edges in DuckDB (``UPDATE``-free: a new label table per
  round) until no label changes;
* **scipy**: the floor: connected components with ``scipy.sparse.csgraph`` on the same
  edges, including the string -> integer encoding (pyarrow ``dictionary_encode``).

The baselines get the edges the identity step ends up using (links plus record ->
normalized identifier edges, minus the placeholders the guard drops) and do nothing else
(no normalization, guards, hashes or uuids), so the ratios are "what the rest costs".

For each size the data is synthesized once (subprocess), then every method runs in its
own fresh subprocess so ``ru_maxrss`` is that method's peak. CPU time is user + system
of all threads (the machine may be shared: wall time is noisier than CPU time).

Synthetic data (vectorized, seeded): ~4 records per person spread over the five Bitrix
record types; ~1.45 identifier rows per record in raw formats (``8 (915) 123-45-67``,
``+7 915 ...``, ``Ivan@Mail.RU ``, 1% foreign or text-wrapped phones that take the slow
path), some one-off values, the shop's own phone and e-mail shared by thousands, junk
placeholders; ~0.5 links per record (1% to other people, 2% dangling); 5% null
``first_seen_at``. Rows are shuffled.

    python bench/bench_identity.py                       # 100k and 1M records, table
    python bench/bench_identity.py --records 1000000 --json
    python bench/bench_identity.py --with-10m            # adds 10M records (~10 GiB)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TABLES = ("b_sale_fuser", "b_sale_order", "b_user", "b_crm_contact", "b_crm_lead")
TABLE_SHARE = (0.40, 0.25, 0.20, 0.10, 0.05)
SHOP_VALUES = ("+74951234567", "info@shop-client.ru")  # shared by thousands: over_shared
METHODS = ("identity", "sql", "scipy")


def synthesize(n: int, seed: int = 0) -> dict[str, object]:
    """Return pyarrow tables ``records``, ``identifiers`` (raw values, the columns of
    ``int_identity__identifiers``), ``links`` and ``edges`` (for the baselines)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rng = np.random.default_rng(seed)
    table = rng.choice(len(TABLES), size=n, p=TABLE_SHARE)
    source_id = np.arange(n, dtype=np.int64) + 1
    tnames = pa.array(TABLES).take(pa.array(table))
    ids_text = pc.cast(pa.array(source_id), pa.string())
    record_key = pc.binary_join_element_wise(tnames, ids_text, ":")
    n_person = max(n // 4, 1)
    person = rng.integers(0, n_person, size=n)
    base = np.datetime64("2015-01-01T00:00:00", "s").astype(np.int64)
    seconds = base + rng.integers(0, 10 * 365 * 86400, size=n)
    first_seen = pa.array(seconds * 1_000_000, pa.int64()).cast(pa.timestamp("us"))
    first_seen = pc.if_else(
        pa.array(rng.random(n) < 0.05), pa.nulls(n, first_seen.type), first_seen
    )
    records = pa.table(
        {
            "record_key": record_key,
            "source_table": tnames,
            "source_id": ids_text,
            "first_seen_at": first_seen,
        }
    )

    # Identifiers: 0-3 per record (mean ~1.45), a person's own values in raw formats.
    per_rec = rng.choice(4, size=n, p=(0.25, 0.20, 0.40, 0.15))
    rec_idx = np.repeat(np.arange(n), per_rec)
    m = rec_idx.size
    kind = rng.integers(0, 2, size=m)  # 0 email, 1 phone
    owner = person[rec_idx].copy()
    variant = rng.random(m)
    one_off = variant < 0.08  # typo / second address: value seen once
    owner[one_off] = n_person + np.arange(int(one_off.sum()))
    owner_text = pc.cast(pa.array(owner), pa.string())
    nsn7 = pc.utf8_lpad(owner_text, 7, "0")  # 10-digit mobile: 9, operator digit, owner
    operator = pa.array(["1", "2", "5", "6", "8"]).take(pa.array(owner % 5))
    digits = pc.binary_join_element_wise("9", operator, "1", nsn7, "")
    a = pc.utf8_slice_codeunits(digits, 0, 3)
    b = pc.utf8_slice_codeunits(digits, 3, 6)
    c = pc.utf8_slice_codeunits(digits, 6, 8)
    d = pc.utf8_slice_codeunits(digits, 8, 10)
    phone_formats = [
        pc.binary_join_element_wise("8 (", a, ") ", b, "-", c, "-", d, ""),
        pc.binary_join_element_wise("+7 ", a, " ", b, c, d, ""),
        pc.binary_join_element_wise("+7", digits, ""),
        pc.binary_join_element_wise("8", digits, ""),
        pc.binary_join_element_wise(a, "-", b, "-", c, d, ""),
        pc.binary_join_element_wise("+375 29 ", b, " ", c, d, ""),  # foreign: slow path
        pc.binary_join_element_wise("тел. 8 ", a, " ", b, c, d, " Иван", ""),  # slow path
    ]
    fmt = rng.choice(len(phone_formats), size=m, p=(0.3, 0.25, 0.2, 0.1, 0.14, 0.005, 0.005))
    phone = phone_formats[0]
    for k in range(1, len(phone_formats)):
        phone = pc.if_else(pa.array(fmt == k), phone_formats[k], phone)
    local = pc.binary_join_element_wise("user", owner_text, "")
    email_formats = [
        pc.binary_join_element_wise(local, "@mail.ru", ""),
        pc.binary_join_element_wise(pc.utf8_capitalize(local), "@Mail.RU ", ""),
        pc.binary_join_element_wise(local, "@почта.рф", ""),  # non-ASCII: slow path
    ]
    efmt = rng.choice(len(email_formats), size=m, p=(0.8, 0.19, 0.01))
    email = email_formats[0]
    for k in range(1, len(email_formats)):
        email = pc.if_else(pa.array(efmt == k), email_formats[k], email)
    value = pc.if_else(pa.array(kind == 0), email, phone)
    shared = (variant >= 0.08) & (variant < 0.085)  # ~0.5%: placeholders, the shop's own
    junk = pa.array(["+7 (000) 000-00-00", "noemail@mail.ru", *SHOP_VALUES, "нет"])
    value = pc.if_else(
        pa.array(shared), junk.take(pa.array(rng.integers(0, len(junk), size=m))), value
    )
    kind = np.where(
        shared,
        np.isin(
            value.to_numpy(zero_copy_only=False), ["+7 (000) 000-00-00", SHOP_VALUES[0], "нет"]
        ).astype(np.int64),
        kind,
    )
    evidence_names = pa.array(
        [
            "b_user.EMAIL",
            "b_user.PERSONAL_PHONE",
            "b_crm_field_multi.EMAIL",
            "b_crm_field_multi.PHONE",
            "b_sale_order_props_value.EMAIL",
            "b_sale_order_props_value.PHONE",
        ]
    )
    evidence = evidence_names.take(pa.array(kind + 2 * rng.integers(0, 3, size=m)))
    identifiers = pa.table(
        {
            "record_key": record_key.take(pa.array(rec_idx)),
            "identifier_kind": pa.array(["email", "phone"]).take(pa.array(kind)),
            "value_raw": value,
            "evidence": evidence,
        }
    )

    # Links: ~0.5 per record, to another record of the same person.
    n_links = n // 2
    src = rng.integers(0, n, size=n_links)
    order = np.argsort(person, kind="stable")
    start = np.searchsorted(person[order], np.arange(n_person))
    count = np.bincount(person, minlength=n_person)
    p_src = person[src]
    dst = order[start[p_src] + (rng.integers(0, 1 << 30, size=n_links) % count[p_src])]
    stranger = rng.random(n_links) < 0.01
    dst[stranger] = rng.integers(0, n, size=int(stranger.sum()))
    other_key = record_key.take(pa.array(dst))
    dangling = pa.array(rng.random(n_links) < 0.02)
    other_key = pc.if_else(
        dangling, pc.binary_join_element_wise("b_user:missing", other_key, ""), other_key
    )
    links = pa.table(
        {
            "record_key": record_key.take(pa.array(src)),
            "other_record_key": other_key,
            "evidence": pa.array(
                ["b_sale_fuser.USER_ID", "b_sale_order.USER_ID", "b_crm_lead.CONTACT_ID"]
            ).take(pa.array(rng.integers(0, 3, size=n_links))),
        }
    )

    def shuffled(t: pa.Table) -> pa.Table:
        return t.take(pa.array(rng.permutation(t.num_rows)))

    return {
        "records": shuffled(records),
        "identifiers": shuffled(identifiers),
        "links": shuffled(links),
    }


def _baseline_edges(folder: Path) -> None:
    """The edges the identity step uses, as (a, b) strings, for the baselines: links
    between known records, and record -> ``kind:normalized value`` minus guarded values."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from bitrix_omni import pipeline

    records = pq.read_table(folder / "records.parquet")
    ids = pipeline.normalize_identifiers(pq.read_table(folder / "identifiers.parquet"))
    links = pq.read_table(folder / "links.parquet")
    guarded = pipeline.guarded_identifiers(ids, links, records, frozenset(), 5)
    valid = ids.filter(ids["is_valid"])
    keep = pc.invert(
        pc.is_in(valid["identifier_hash"], value_set=pa.array(guarded["identifier_hash"]))
    )
    valid = valid.filter(keep)
    id_edges = pa.table(
        {
            "a": valid["record_key"].cast(pa.large_string()),
            "b": pc.binary_join_element_wise(
                valid["identifier_kind"].cast(pa.string()),
                valid["identifier_value"].cast(pa.string()),
                ":",
            ).cast(pa.large_string()),
        }
    )
    known = pc.and_(
        pc.is_in(links["record_key"], value_set=records["record_key"]),
        pc.is_in(links["other_record_key"], value_set=records["record_key"]),
    )
    links = links.filter(known)
    link_edges = pa.table(
        {
            "a": links["record_key"].cast(pa.large_string()),
            "b": links["other_record_key"].cast(pa.large_string()),
        }
    )
    pq.write_table(pa.concat_tables([id_edges, link_edges]), folder / "edges.parquet")


def _rss_now() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _generate(n: int, folder: Path) -> None:
    import pyarrow.parquet as pq

    for name, table in synthesize(n).items():
        pq.write_table(table, folder / f"{name}.parquet")
    _baseline_edges(folder)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _sorted_records(records):  # type: ignore[no-untyped-def]
    """Records in record_key order, as int_identity__records stores them."""
    import pyarrow.compute as pc

    return records.take(pc.sort_indices(records, sort_keys=[("record_key", "ascending")]))


def _measure_identity(folder: Path) -> dict[str, float]:
    """The identity step on Arrow tables: normalize (dictionary columns), then resolve;
    also the guard model, a second run with the previous map, and resolution on the plain
    per-row string columns the dbt registry model reads."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from bitrix_omni import pipeline

    records = _sorted_records(pq.read_table(folder / "records.parquet"))
    raw_ids = pq.read_table(folder / "identifiers.parquet")
    links = pq.read_table(folder / "links.parquet")
    baseline = _rss_now()
    c0, t0 = _cpu(), time.perf_counter()
    ids = pipeline.normalize_identifiers(raw_ids, dictionary=True)
    # The step owns its raw input: once normalized, only the columns the normalized table
    # shares (record_key, kind, evidence) stay alive, the raw values are dropped.
    identifier_rows = raw_ids.num_rows
    del raw_ids
    c1, t1 = _cpu(), time.perf_counter()
    first = pipeline.resolve(records, ids, links, frozenset(), 5)
    c2, t2 = _cpu(), time.perf_counter()
    peak_step = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    guarded = pipeline.guarded_identifiers(ids, links, records, frozenset(), 5)
    c3, t3 = _cpu(), time.perf_counter()
    health = first.health.iloc[0].to_dict()
    previous = pa.Table.from_pandas(
        first.identity_map[["record_key", "customer_uuid"]], preserve_index=False
    )
    del first
    # The shape the dbt registry model reads: one plain string per row and column.
    plain = ids.select(["identifier_value", "identifier_hash", "identifier_masked"])
    ids_plain = ids
    for name in plain.column_names:
        decoded = ids[name].combine_chunks().dictionary_decode()
        ids_plain = ids_plain.set_column(ids.column_names.index(name), name, decoded)
    del plain
    t5 = time.perf_counter()
    pipeline.resolve(records, ids_plain, links, frozenset(), 5)
    t_plain = time.perf_counter() - t5
    del ids_plain

    # Second run: 1% new records (new orders of known e-mails) and the previous map.
    k = max(records.num_rows // 100, 1)
    new_keys = pa.array([f"b_sale_order:new{i}" for i in range(k)], pa.large_string())
    new_records = pa.table(
        {
            "record_key": new_keys,
            "source_table": pa.array(["b_sale_order"] * k, pa.large_string()),
            "source_id": pa.array([str(i) for i in range(k)], pa.large_string()),
            "first_seen_at": pa.nulls(k, records.schema.field("first_seen_at").type),
        }
    )
    records2 = _sorted_records(
        pa.concat_tables([records, new_records], promote_options="permissive")
    )
    new_ids = ids.slice(0, k).set_column(
        0, "record_key", new_keys.cast(ids.schema.field("record_key").type)
    )
    ids2 = pa.concat_tables([ids, new_ids])
    t4 = time.perf_counter()
    second = pipeline.resolve(records2, ids2, links, frozenset(), 5, previous=previous)
    t_second = time.perf_counter() - t4
    h2 = second.health.iloc[0].to_dict()
    return {
        "records": int(health["records"]),
        "identifier_rows": identifier_rows,
        "link_rows": links.num_rows,
        "customers": int(health["customers"]),
        "largest_customer_records": int(health["largest_customer_records"]),
        "identifiers_over_shared": int(health["identifiers_over_shared"]),
        "guarded_rows": len(guarded),
        "seconds": round(t2 - t0, 2),
        "cpu_seconds": round(c2 - c0, 2),
        "seconds_normalize": round(t1 - t0, 2),
        "cpu_seconds_normalize": round(c1 - c0, 2),
        "seconds_resolve": round(t2 - t1, 2),
        "seconds_guard_model": round(t3 - t2, 2),
        "cpu_seconds_guard_model": round(c3 - c2, 2),
        "seconds_with_previous": round(t_second, 2),
        "seconds_resolve_plain_columns": round(t_plain, 2),
        "merges_second_run": int(h2["merges"]),
        "splits_second_run": int(h2["splits"]),
        "rss_inputs_bytes": baseline,
        "peak_rss_bytes": peak_step,
    }


def _measure_scipy(folder: Path) -> dict[str, float]:
    """Floor: string -> int encoding with pyarrow, then scipy connected components."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    edges = pq.read_table(folder / "edges.parquet")
    records = pq.read_table(folder / "records.parquet", columns=["record_key"])
    baseline = _rss_now()
    c0, t0 = _cpu(), time.perf_counter()
    nodes = pa.chunked_array(
        [
            *records["record_key"].cast(pa.large_string()).chunks,
            *edges["a"].chunks,
            *edges["b"].chunks,
        ]
    ).dictionary_encode()
    codes = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in nodes.chunks])
    n_nodes = len(nodes.chunk(0).dictionary)
    n_rec, n_e = records.num_rows, edges.num_rows
    a, b = codes[n_rec : n_rec + n_e], codes[n_rec + n_e :]
    graph = sparse.coo_matrix(
        (np.ones(n_e, dtype=np.int8), (a, b)), shape=(n_nodes, n_nodes)
    ).tocsr()
    _, labels = connected_components(graph, directed=True, connection="weak")
    customers = len(np.unique(labels[codes[:n_rec]]))
    c1, t1 = _cpu(), time.perf_counter()
    return {
        "customers": int(customers),
        "seconds": round(t1 - t0, 2),
        "cpu_seconds": round(c1 - c0, 2),
        "rss_inputs_bytes": baseline,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def _measure_sql(folder: Path) -> dict[str, float]:
    """The simple alternative: min-label propagation in DuckDB until nothing changes."""
    import duckdb

    con = duckdb.connect()
    con.execute("set threads to 2")
    con.execute(f"create table e as select a, b from read_parquet('{folder / 'edges.parquet'}')")
    con.execute(
        f"create table r as select record_key from read_parquet('{folder / 'records.parquet'}')"
    )
    baseline = _rss_now()
    c0, t0 = _cpu(), time.perf_counter()
    con.execute(
        """
        create table u as select a, b from e union all select b, a from e;
        create table lbl as
            select node, min(label) as label from (
                select record_key as node, record_key as label from r
                union all select a, a from e union all select b, b from e
            ) group by node;
        """
    )
    rounds = 0
    while True:
        rounds += 1
        con.execute(
            """
            create or replace table nxt as
            select l.node, least(l.label, coalesce(m.label, l.label)) as label
            from lbl l left join (
                select u.a as node, min(n.label) as label
                from u join lbl n on n.node = u.b group by u.a
            ) m on m.node = l.node
            """
        )
        changed = con.execute(
            "select count(*) from nxt join lbl using (node) where nxt.label <> lbl.label"
        ).fetchone()[0]
        con.execute("drop table lbl; alter table nxt rename to lbl")
        if changed == 0:
            break
    customers = con.execute(
        "select count(distinct label) from lbl join r on r.record_key = lbl.node"
    ).fetchone()[0]
    c1, t1 = _cpu(), time.perf_counter()
    return {
        "customers": int(customers),
        "rounds": rounds,
        "seconds": round(t1 - t0, 2),
        "cpu_seconds": round(c1 - c0, 2),
        "rss_inputs_bytes": baseline,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


MEASURES = {"identity": _measure_identity, "sql": _measure_sql, "scipy": _measure_scipy}


def _subprocess(method: str, folder: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--_measure", method, folder],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_size(n: int, repeat: int = 1, methods: tuple[str, ...] = METHODS) -> dict[str, object]:
    """Generate ``n`` records, then measure each method in its own fresh interpreter.

    With ``repeat`` > 1 each measurement is repeated and the fastest run kept (a shared
    machine adds noise, never speed).
    """
    with tempfile.TemporaryDirectory(prefix="bench_identity_") as tmp:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--_generate", str(n), tmp], check=True)
        result: dict[str, object] = {
            "size": n,
            "seconds_generate": round(time.perf_counter() - t0, 1),
        }
        for method in methods:
            runs = [_subprocess(method, tmp) for _ in range(max(repeat, 1))]
            best = min(runs, key=lambda r: r["seconds"])
            records = int(result.get("records", 0)) or n
            if method == "identity":
                result["records"] = records = best["records"]
            best["records_per_second"] = round(records / max(best["seconds"], 1e-9))
            best["peak_rss_gib"] = round(best["peak_rss_bytes"] / 2**30, 2)
            best["bytes_per_record"] = round(
                (best["peak_rss_bytes"] - best["rss_inputs_bytes"]) / max(records, 1)
            )
            result[method] = best
        ours = result.get("identity")
        for method in methods:
            if method != "identity" and isinstance(ours, dict):
                other = result[method]
                assert isinstance(other, dict)
                other["same_customer_count"] = other["customers"] == ours["customers"]
                result[f"ratio_vs_{method}"] = {
                    "wall": round(ours["seconds"] / max(other["seconds"], 1e-9), 2),
                    "cpu": round(ours["cpu_seconds"] / max(other["cpu_seconds"], 1e-9), 2),
                }
        return result


def _machine() -> dict[str, object]:
    import platform

    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "machine": platform.machine(),
    }


def _print_table(rows: list[dict[str, object]]) -> None:
    head = [
        "records",
        "method",
        "wall s",
        "cpu s",
        "records/s",
        "peak GiB",
        "B/record",
        "customers",
        "wall ratio",
        "cpu ratio",
    ]
    print(" | ".join(f"{h:>10}" for h in head))
    for row in rows:
        for method in METHODS:
            r = row.get(method)
            if not isinstance(r, dict):
                continue
            ratio = row.get(f"ratio_vs_{method}", {})
            assert isinstance(ratio, dict)
            cells = [
                f"{row['records']:,}",
                method,
                r["seconds"],
                r["cpu_seconds"],
                f"{r['records_per_second']:,}",
                r["peak_rss_gib"],
                f"{r['bytes_per_record']:,}",
                f"{r['customers']:,}",
                "" if method == "identity" else f"{ratio.get('wall', '')}x",
                "" if method == "identity" else f"{ratio.get('cpu', '')}x",
            ]
            print(" | ".join(f"{c!s:>10}" for c in cells))
        ours = row.get("identity")
        if isinstance(ours, dict):
            print(
                f"{'':>10}   identity = normalize {ours['seconds_normalize']} s + resolve "
                f"{ours['seconds_resolve']} s; guard model {ours['seconds_guard_model']} s; "
                f"second run with previous {ours['seconds_with_previous']} s; resolve on "
                f"plain string columns {ours['seconds_resolve_plain_columns']} s"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--with-10m", action="store_true", help="also 10M records (~10 GiB)")
    parser.add_argument(
        "--methods", nargs="+", choices=METHODS, default=list(METHODS), help="what to time"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--repeat", type=int, default=1, help="runs per size, fastest kept")
    parser.add_argument("--_generate", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--_measure", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._generate:
        _generate(int(args._generate[0]), Path(args._generate[1]))
        return 0
    if args._measure:
        print(json.dumps(MEASURES[args._measure[0]](Path(args._measure[1]))))
        return 0
    sizes = list(args.records) + ([10_000_000] if args.with_10m else [])
    rows = []
    for n in sizes:
        rows.append(run_size(n, args.repeat, tuple(args.methods)))
        if not args.json:
            print(f"done {n:,} records", file=sys.stderr)
    if args.json:
        print(json.dumps({"machine": _machine(), "sizes": rows}, indent=2))
        return 0
    print(f"machine: {_machine()}")
    _print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
