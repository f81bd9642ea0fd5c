"""The ``bitrix-omni`` command line.

One ``argparse`` parser with a subcommand per task. Each subcommand is two small functions: an
``_add_<name>(subparsers)`` that declares its arguments and binds ``func``, and a
``_cmd_<name>(args) -> int`` that does the work. To add a subcommand, write both and append the
``_add_`` function to :data:`SUBCOMMANDS`; :func:`main` needs no change. Why this shape: every
command stays independently readable and testable (``main([...])`` returns the exit code instead
of exiting), and the package's core modules never import argparse. A subcommand with heavy
dependencies should import them inside its ``_cmd_`` function so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bitrix_omni import __version__, summary
from bitrix_omni.generate import DEFAULT_DAYS, DEFAULT_START, FORMATS, TABLE_COLUMNS, generate

SubParsers = Any  # argparse's _SubParsersAction is private; keep the annotation honest but loose


# ------------------------------------------------------------------------------ argument types


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _iso_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from exc


# ------------------------------------------------------------------------------ generate


def _add_generate(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="write fictitious Bitrix-shaped tables (demo/test/benchmark data)",
        description=(
            "Write one file per Bitrix table (<table>.csv or .parquet) plus _truth_persons.csv "
            "(which records belong to the same generated person). Deterministic: the same "
            "arguments give byte-identical files. All data is fictitious."
        ),
    )
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument(
        "--customers", required=True, type=_non_negative_int, help="number of generated persons"
    )
    parser.add_argument("--seed", type=int, default=42, help="random seed (default: 42)")
    parser.add_argument(
        "--format", dest="fmt", choices=FORMATS, default="csv", help="file format (default: csv)"
    )
    parser.add_argument(
        "--start",
        type=_iso_date,
        default=DEFAULT_START,
        help=f"first day of the data window, YYYY-MM-DD (default: {DEFAULT_START})",
    )
    parser.add_argument(
        "--days",
        type=int,
        default=DEFAULT_DAYS,
        help=f"length of the data window in days, >= 7 (default: {DEFAULT_DAYS})",
    )
    parser.add_argument(
        "--omit-table",
        dest="omit_tables",
        action="extend",
        nargs="+",
        default=[],
        choices=sorted(TABLE_COLUMNS),
        metavar="TABLE",
        help="do not write this table (a site without that module); repeatable",
    )
    parser.add_argument("--quiet", action="store_true", help="print nothing on success")
    parser.set_defaults(func=_cmd_generate)


def _cmd_generate(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    counts = generate(
        args.out,
        args.customers,
        seed=args.seed,
        fmt=args.fmt,
        start=args.start,
        days=args.days,
        omit_tables=args.omit_tables,
    )
    elapsed = time.perf_counter() - started
    if not args.quiet:
        truth = counts.pop("_truth_persons", 0)
        total = sum(counts.values())
        width = max(len(name) for name in counts) if counts else 10
        print(
            f"Wrote {len(counts)} tables ({args.fmt}) to {args.out}: {args.customers} customers, "
            f"seed {args.seed}, {args.start} + {args.days} days"
        )
        for name, rows in counts.items():
            print(f"  {name:<{width}}  {rows:>12,}")
        rate = total / elapsed if elapsed > 0 else float("inf")
        print(f"  {'total':<{width}}  {total:>12,}  (+ {truth:,} rows in _truth_persons.csv)")
        print(f"{elapsed:.2f} s, {rate:,.0f} rows/s")
    return 0


# ------------------------------------------------------------------------------ summary


def _add_summary(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser(
        "summary",
        help="show where a DuckDB build put its results, with row counts",
        description=(
            "List the tables and views of the DuckDB file the default profile writes "
            "(BITRIX_OMNI_DUCKDB_PATH, default target/bitrix_omni.duckdb) with row counts."
        ),
    )
    parser.add_argument(
        "--database", type=Path, default=None, help="DuckDB file (default: the profile's)"
    )
    parser.set_defaults(func=_cmd_summary)


def _cmd_summary(args: argparse.Namespace) -> int:
    database = args.database.resolve() if args.database else summary.database_path()
    print(summary.render(database))
    return 0 if database.exists() else 1


# ------------------------------------------------------------------------------ entry point

SUBCOMMANDS: tuple[Callable[[SubParsers], None], ...] = (_add_generate, _add_summary)
"""Every subcommand's ``_add_<name>`` function, in the order ``--help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The full parser: global options plus one subparser per entry of :data:`SUBCOMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="bitrix-omni",
        description="Omnichannel customer analytics for 1C-Bitrix shops.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand and return its exit code (``argv`` defaults to ``sys.argv[1:]``)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(func(args))
    except ValueError as exc:  # bad argument combinations found by the library
        parser.error(str(exc))  # exits with status 2
    return 2  # pragma: no cover - parser.error never returns


if __name__ == "__main__":
    raise SystemExit(main())
