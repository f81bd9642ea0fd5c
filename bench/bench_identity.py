"""Benchmark of :func:`bitrix_omni.identity.resolve_identities` (a script, not a test).

For each size it synthesizes a shop-like graph and writes it to Parquet in a first
subprocess, then times ``resolve_identities`` in a second, fresh subprocess (first run
without previous state, then a second run with the first run's map as ``previous`` and 1%
new records), so ``ru_maxrss`` measures the identity step and not the data generator.

Synthetic data (vectorized, seeded): ~4 records per person spread over the five Bitrix
record types; ~1.5 identifier rows per record (mostly the person's own e-mail/phone, some
one-off values, a few placeholder phones/e-mails shared by thousands); ~0.5 links per
record (mostly within the person, 1% to other people, 2% dangling); 5% null
``first_seen_at``. Rows are shuffled.

    python bench/bench_identity.py --records 100000 1000000
    python bench/bench_identity.py --records 10000000 --json
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


def synthesize(n: int, seed: int = 0) -> dict[str, object]:
    """Return pyarrow tables ``records``, ``identifiers``, ``links`` with ~n records."""
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

    # Identifiers: 0-3 per record (mean ~1.45).
    per_rec = rng.choice(4, size=n, p=(0.25, 0.20, 0.40, 0.15))
    rec_idx = np.repeat(np.arange(n), per_rec)
    m = rec_idx.size
    kind = rng.integers(0, 2, size=m)  # 0 email, 1 phone
    owner = person[rec_idx].copy()
    variant = rng.random(m)
    one_off = variant < 0.08  # typo / second address: value seen once
    owner[one_off] = n_person + np.arange(int(one_off.sum()))
    placeholder = (variant >= 0.08) & (variant < 0.085)  # ~0.5% junk values
    n_ph = int(placeholder.sum())
    owner_text = pc.cast(pa.array(owner), pa.string())
    email = pc.binary_join_element_wise("user", owner_text, "@mail.ru", "")
    phone = pc.utf8_lpad(owner_text, 9, "0")
    phone = pc.binary_join_element_wise("+79", phone, "")
    value = pc.if_else(pa.array(kind == 0), email, phone)
    junk = pa.array(["+70000000000", "noemail@mail.ru", "+79999999999", "test@test.ru"])
    value = pc.if_else(
        pa.array(placeholder),
        junk.take(pa.array(rng.integers(0, len(junk), size=m))),
        value,
    )
    del n_ph
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
            "kind": pa.array(["email", "phone"]).take(pa.array(kind)),
            "value": value,
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


def _rss_now() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _generate(n: int, folder: Path) -> None:
    import pyarrow.parquet as pq

    for name, table in synthesize(n).items():
        pq.write_table(table, folder / f"{name}.parquet")


def _measure(folder: Path) -> dict[str, float]:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from bitrix_omni.identity import resolve_identities

    frames = {
        name: pq.read_table(folder / f"{name}.parquet").to_pandas()
        for name in ("records", "identifiers", "links")
    }
    baseline = _rss_now()
    u0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    first = resolve_identities(frames["records"], frames["identifiers"], frames["links"])
    t_first = time.perf_counter() - t0
    u1 = resource.getrusage(resource.RUSAGE_SELF)
    peak_first = u1.ru_maxrss * 1024
    health = first.health.iloc[0].to_dict()
    evidence_rows = len(first.evidence)
    previous = first.identity_map[["record_key", "customer_uuid"]]
    del first

    # Second run: 1% new records (new orders of known e-mails) and the previous map.
    recs = pa.Table.from_pandas(frames["records"], preserve_index=False)
    k = max(recs.num_rows // 100, 1)
    new_keys = pc.binary_join_element_wise(
        "b_sale_order:new", pa.array(range(k)).cast(pa.string()), ""
    )
    new_records = pa.table(
        {
            "record_key": new_keys,
            "source_table": pa.array(["b_sale_order"] * k),
            "source_id": pa.array(range(k)).cast(pa.string()),
            "first_seen_at": pa.nulls(k, recs.schema.field("first_seen_at").type),
        }
    )
    ids = pa.Table.from_pandas(frames["identifiers"], preserve_index=False)
    new_ids = pa.table(
        {
            "record_key": new_keys,
            "kind": ids.column("kind").slice(0, k),
            "value": ids.column("value").slice(0, k),
            "evidence": ids.column("evidence").slice(0, k),
        }
    )
    records2 = pa.concat_tables([recs, new_records.cast(recs.schema)]).to_pandas()
    identifiers2 = pa.concat_tables([ids, new_ids.cast(ids.schema)]).to_pandas()
    del recs, ids
    t0 = time.perf_counter()
    second = resolve_identities(records2, identifiers2, frames["links"], previous=previous)
    t_second = time.perf_counter() - t0
    h2 = second.health.iloc[0].to_dict()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "records": int(health["records"]),
        "identifier_rows": len(frames["identifiers"]),
        "link_rows": len(frames["links"]),
        "evidence_rows": evidence_rows,
        "customers": int(health["customers"]),
        "largest_customer_records": int(health["largest_customer_records"]),
        "identifiers_over_shared": int(health["identifiers_over_shared"]),
        "seconds_first_run": round(t_first, 2),
        # CPU of all threads; "sys" is mostly first-touch page faults of new memory.
        "cpu_user_first_run": round(u1.ru_utime - u0.ru_utime, 2),
        "cpu_sys_first_run": round(u1.ru_stime - u0.ru_stime, 2),
        "seconds_with_previous": round(t_second, 2),
        "merges_second_run": int(h2["merges"]),
        "splits_second_run": int(h2["splits"]),
        "rss_inputs_gib": round(baseline / 2**30, 2),
        "peak_rss_first_run_gib": round(peak_first / 2**30, 2),
        "peak_rss_gib": round(peak / 2**30, 2),
    }


def run_size(n: int, repeat: int = 1) -> dict[str, float]:
    """Generate then measure ``n`` records, each in its own fresh interpreter.

    With ``repeat`` > 1 the measurement is repeated and the run with the fastest first
    resolve is kept (a shared machine adds noise, never speed).
    """
    with tempfile.TemporaryDirectory(prefix="bench_identity_") as tmp:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--_generate", str(n), tmp], check=True)
        gen_seconds = time.perf_counter() - t0
        runs = []
        for _ in range(max(repeat, 1)):
            out = subprocess.run(
                [sys.executable, __file__, "--_measure", tmp],
                check=True,
                capture_output=True,
                text=True,
            )
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        result = min(runs, key=lambda r: r["seconds_first_run"])
        result["runs"] = len(runs)
        result["seconds_generate"] = round(gen_seconds, 1)
        return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--repeat", type=int, default=1, help="runs per size, fastest kept")
    parser.add_argument("--_generate", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--_measure", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._generate:
        _generate(int(args._generate[0]), Path(args._generate[1]))
        return 0
    if args._measure:
        print(json.dumps(_measure(Path(args._measure))))
        return 0
    rows = []
    for n in args.records:
        rows.append(run_size(n, args.repeat))
        if not args.json:
            print(f"done {n:,} records", file=sys.stderr)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    cols = [
        ("records", "records"),
        ("identifier_rows", "id rows"),
        ("link_rows", "links"),
        ("customers", "customers"),
        ("seconds_first_run", "first s"),
        ("cpu_user_first_run", "user s"),
        ("cpu_sys_first_run", "sys s"),
        ("seconds_with_previous", "w/ prev s"),
        ("peak_rss_gib", "peak GiB"),
        ("rss_inputs_gib", "inputs GiB"),
        ("largest_customer_records", "largest"),
        ("identifiers_over_shared", "capped"),
    ]
    print(" | ".join(f"{title:>10}" for _, title in cols))
    for row in rows:
        print(
            " | ".join(
                f"{row[key]:>10,}" if isinstance(row[key], int) else f"{row[key]:>10}"
                for key, _ in cols
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
