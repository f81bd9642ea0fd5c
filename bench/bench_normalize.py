"""Benchmark of the batch identifier normalizers (not a test).

Builds ``--rows`` raw phone strings with about ``--distinct`` distinct values in mixed
real-world formats (Russian mobile/landline numbers written a dozen ways, extensions,
text around digits, foreign numbers, placeholders, junk, missing values) and as many
e-mails, then times :func:`bitrix_omni.normalize.normalize_phones` and
:func:`~bitrix_omni.normalize.normalize_emails`. For scale, it also times the scalar
functions on a sample of distinct values: that is what a naive ``Series.map`` costs.

Usage::

    python bench/bench_normalize.py                 # 1M rows, ~30% distinct, table
    python bench/bench_normalize.py --json          # the same figures as JSON
    python bench/bench_normalize.py --rows 200000 --distinct 0.5 --repeat 5
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bitrix_omni import normalize as nz

_FIRST = ["ivan", "petr", "anna", "olga", "sergey", "maria", "dmitry", "elena", "alex", "nina"]
_LAST = ["ivanov", "petrova", "smirnov", "kuznetsova", "popov", "sokolova", "lebedev", "kozlov"]
_DOMAINS = [
    "mail.ru",
    "yandex.ru",
    "gmail.com",
    "bk.ru",
    "inbox.ru",
    "list.ru",
    "rambler.ru",
    "ya.ru",
    "почта.рф",
    "shop-client.ru",
]
_GEO_CODES = ["495", "499", "812", "343", "383", "846", "861", "863", "351", "473", "3412"]


def _phone_formats(nsn: str, rng: random.Random) -> str:
    """One raw rendering of a 10-digit RU national number, in a realistic mix."""
    a, b, c, d = nsn[:3], nsn[3:6], nsn[6:8], nsn[8:]
    fmt = rng.random()
    if fmt < 0.25:
        return f"8 ({a}) {b}-{c}-{d}"
    if fmt < 0.45:
        return f"+7 ({a}) {b}-{c}-{d}"
    if fmt < 0.60:
        return f"8{nsn}"
    if fmt < 0.70:
        return f"+7{nsn}"
    if fmt < 0.75:
        return nsn
    if fmt < 0.80:
        return f"8-{a}-{b}-{c}-{d}"
    if fmt < 0.84:
        return f"7({a}){b}{c}{d}"
    if fmt < 0.88:
        return f"+7 {a} {b} {c} {d}"
    # the rest need the phonenumbers slow path
    if fmt < 0.91:
        return f"8 ({a}) {b}-{c}-{d} доб. {rng.randint(1, 999)}"
    if fmt < 0.94:
        return f"тел. 8 {a} {b}-{c}-{d}"
    if fmt < 0.96:
        return f"\u00a0+7\u00a0{a}\u00a0{b}\u00a0{c}\u00a0{d}"
    return f"+7 {a} {b}-{c}-{d} ext {rng.randint(1, 99)}"


def _distinct_phone(rng: random.Random) -> str | None:
    kind = rng.random()
    if kind < 0.82:  # mobile
        return _phone_formats("9" + "".join(rng.choices("0123456789", k=9)), rng)
    if kind < 0.92:  # landline
        code = rng.choice(_GEO_CODES)
        return _phone_formats(code + "".join(rng.choices("0123456789", k=10 - len(code))), rng)
    if kind < 0.95:  # foreign
        return rng.choice(
            [
                f"+375 29 {rng.randint(100, 999)}-{rng.randint(10, 99)}-{rng.randint(10, 99)}",
                f"+380 67 {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
                f"00 49 30 {rng.randint(1000000, 9999999)}",
                f"+7 701 {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
            ]
        )
    if kind < 0.97:  # placeholders
        digit = rng.choice("0123456789")
        return rng.choice([f"8{digit * 10}", f"+7 ({digit * 3}) {digit * 3}-{digit * 4}"])
    return rng.choice(["нет", "-", "0", "не указан", "123", f"{rng.randint(1, 10**6)}"])


def _distinct_email(rng: random.Random) -> str | None:
    local = f"{rng.choice(_FIRST)}{rng.choice(['', '.', '_'])}{rng.choice(_LAST)}"
    if rng.random() < 0.7:
        local += str(rng.randint(1, 99999))
    addr = f"{local}@{rng.choice(_DOMAINS)}"
    kind = rng.random()
    if kind < 0.70:
        return addr
    if kind < 0.80:
        return addr.capitalize()
    if kind < 0.85:
        return f" {addr} "
    if kind < 0.88:
        return f"{addr}."
    if kind < 0.91:
        return f"{rng.choice(_FIRST).title()} <{addr}>"
    if kind < 0.93:
        return f"mailto:{addr}"
    if kind < 0.96:
        return rng.choice(["noemail@mail.ru", "net@net.ru", "test@test.ru"])
    return rng.choice([local, f"{local}@mail", f"{local}@@mail.ru", "нет", ""])


def _column(
    make: Callable[[random.Random], str | None], rows: int, distinct: float, seed: int
) -> tuple[pa.Array, int]:
    """``rows`` values drawn from ~``rows * distinct`` generated ones, 3% missing."""
    rng = random.Random(seed)
    n_distinct = max(1, int(rows * distinct))
    pool = pa.array([make(rng) for _ in range(n_distinct)], type=pa.string())
    np_rng = np.random.default_rng(seed)
    idx = np.concatenate([np.arange(n_distinct), np_rng.integers(0, n_distinct, rows)])[:rows]
    np_rng.shuffle(idx)
    col = pool.take(pa.array(idx))
    missing = np_rng.random(rows) < 0.03
    col = pc.if_else(pa.array(missing), pa.scalar(None, pa.string()), col)
    return col, len(pc.unique(col.drop_null()))


def _time(fn: Callable[[], Any], repeat: int) -> float:
    """Median wall time of ``repeat`` runs (seconds)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _scalar_rate(fn: Callable[[object], object], sample: Sequence[object]) -> float:
    start = time.perf_counter()
    for value in sample:
        fn(value)
    return len(sample) / (time.perf_counter() - start)


def run(rows: int, distinct: float, repeat: int, seed: int) -> dict[str, Any]:
    """Build the data, time everything, return the figures."""
    phones, phones_distinct = _column(_distinct_phone, rows, distinct, seed)
    emails, emails_distinct = _column(_distinct_email, rows, distinct, seed + 1)

    uniques = pc.unique(phones.drop_null())
    fast_mask, _ = nz._ru_fast_phones(uniques)
    fast_share = float(fast_mask.mean()) if len(fast_mask) else 0.0
    email_uniques = pc.unique(emails.drop_null()).to_pylist()

    results: list[dict[str, Any]] = []
    for name, col, n_distinct, fn in [
        ("normalize_phones", phones, phones_distinct, nz.normalize_phones),
        ("normalize_emails", emails, emails_distinct, nz.normalize_emails),
    ]:
        seconds = _time(lambda fn=fn, col=col: fn(col), repeat)
        results.append(
            {
                "function": name,
                "rows": len(col),
                "distinct": n_distinct,
                "seconds": round(seconds, 4),
                "rows_per_s": round(len(col) / seconds),
                "distinct_per_s": round(n_distinct / seconds),
            }
        )
    sample_size = min(20_000, len(uniques))
    phone_sample = uniques.to_pylist()[:sample_size]
    scalar = {
        "normalize_phone_per_s": round(_scalar_rate(nz.normalize_phone, phone_sample)),
        "normalize_email_per_s": round(
            _scalar_rate(nz.normalize_email, email_uniques[:sample_size])
        ),
        "sample": sample_size,
    }
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "pyarrow": pa.__version__,
        "phonenumbers": nz.phonenumbers.__version__,
        "repeat": repeat,
        "phone_fast_path_share_of_distinct": round(fast_share, 4),
        "batch": results,
        "scalar_on_distinct_values": scalar,
    }


def _print_table(report: dict[str, Any]) -> None:
    header = f"{'function':<18}{'rows':>10}{'distinct':>10}{'seconds':>10}{'rows/s':>12}"
    header += f"{'distinct/s':>12}"
    print(header)
    print("-" * len(header))
    for r in report["batch"]:
        print(
            f"{r['function']:<18}{r['rows']:>10,}{r['distinct']:>10,}{r['seconds']:>10.3f}"
            f"{r['rows_per_s']:>12,}{r['distinct_per_s']:>12,}"
        )
    s = report["scalar_on_distinct_values"]
    print()
    print(
        f"scalar normalize_phone: {s['normalize_phone_per_s']:,} values/s ({s['sample']:,} sample)"
    )
    print(f"scalar normalize_email: {s['normalize_email_per_s']:,} values/s")
    share = report["phone_fast_path_share_of_distinct"]
    print(f"phone fast path share of distinct values: {share:.1%}")
    print(
        f"python {report['python']} ({report['machine']}), pyarrow {report['pyarrow']}, "
        f"phonenumbers {report['phonenumbers']}, median of {report['repeat']} runs"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--distinct", type=float, default=0.3, help="share of distinct values")
    parser.add_argument("--repeat", type=int, default=3, help="runs per function (median)")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    report = run(args.rows, args.distinct, args.repeat, args.seed)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        _print_table(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
