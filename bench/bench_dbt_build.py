"""End-to-end benchmark of ``dbt build`` on DuckDB (a script, not a test).

For each size it generates a Bitrix export with ``bitrix-omni generate`` (cached under
``--work``: a second run reuses it), runs ``dbt build`` on a fresh DuckDB file and reports
the wall time, the CPU time and peak RSS of the dbt process tree (``os.wait4``), raw input
rows per second and the slowest models from ``target/run_results.json``.

Both runs take the shop at the end of an ordinary hour: the last hour of the generated
window's steady activity (``bitrix_omni.generate.activity_end``; the window's last days hold
only follow-ups, and its very last hour hardly a row). The *full build* is of the export cut
there (rows created later are dropped, as ``tests/integration/test_incremental_omni_stats.py``
does). The *hourly incremental run*: the export cut one hour earlier is built on a fresh
DuckDB file, then ``dbt build`` runs again on the same file with the export at the end of
the hour, i.e. one more hour of data. Its time is reported as a fraction of the full build.

``--loaded-at`` builds both from the export as a replication into Parquet files leaves
it (``bitrix_omni.exports.as_replicated_parquet``: every row stamped with ``_LOADED_AT``,
files in load-time order) with ``bitrix_omni_loaded_at_column: _loaded_at``, so staging
compares only the rows loaded since its last run instead of every raw row.

Everything is isolated: the DuckDB file, ``target/`` and ``logs/`` live under ``--work``.

    python bench/bench_dbt_build.py                      # 100k and 1M customers, table
    python bench/bench_dbt_build.py --customers 100000 --json
    python bench/bench_dbt_build.py --customers 1000000 --loaded-at
    python bench/bench_dbt_build.py --with-10m           # adds 10M customers (~20 GB CSV)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bitrix_omni.exports import as_replicated_parquet, export_until
from bitrix_omni.generate import activity_end

PROJECT_DIR = Path(__file__).resolve().parents[1]
START = dt.date(2024, 1, 1)
DAYS = 365


def generated(work: Path, customers: int, seed: int) -> tuple[Path, dict[str, Any]]:
    """The export for ``customers`` (generated once, then cached) and its row counts."""
    data = work / f"data_{customers}_s{seed}"
    meta = data / "_bench_meta.json"
    if meta.exists():
        return data, json.loads(meta.read_text())
    if data.exists():
        shutil.rmtree(data)
    started = time.perf_counter()
    usage = _run_measured(
        [
            sys.executable,
            "-m",
            "bitrix_omni.cli",
            "generate",
            "--out",
            str(data),
            "--customers",
            str(customers),
            "--seed",
            str(seed),
            "--start",
            START.isoformat(),
            "--days",
            str(DAYS),
            "--quiet",
        ],
        env=dict(os.environ),
    )
    counts = table_rows(data)
    info = {
        "raw_rows": sum(counts.values()),
        "tables": counts,
        "generate_seconds": round(time.perf_counter() - started, 1),
        "generate_cpu_seconds": usage["cpu_seconds"],
        "generate_peak_rss_mib": usage["peak_rss_mib"],
        "bytes_on_disk": sum(p.stat().st_size for p in data.iterdir()),
    }
    meta.write_text(json.dumps(info))
    return data, info


def _csv_rows(path: Path) -> int:
    import duckdb

    return duckdb.sql(
        f"select count(*) from read_csv('{path}', all_varchar = true, header = true)"
    ).fetchall()[0][0]


def _run_measured(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> dict[str, Any]:
    """Run ``cmd``; wall and CPU seconds and peak RSS of it and its children, output tail."""
    started = time.perf_counter()
    with open(os.devnull, "w") as sink:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=sink)
        assert proc.stdout is not None
        tail = proc.stdout.read()[-4000:].decode(errors="replace")
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed ({proc.returncode}):\n{tail}")
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        # ru_maxrss of wait4 is the largest single process of the tree, in KiB.
        "peak_rss_mib": usage.ru_maxrss >> 10,
    }


#: ``--vars`` of the runs on a replicated export (``--loaded-at``).
LOADED_AT_VARS = "{bitrix_omni_loaded_at_column: _loaded_at}"


def replicated(data: Path) -> Path:
    """``data`` as replicated Parquet files with load times, converted once (cached). Rows
    without a creation time were loaded over the data window before the hourly run's
    hour, so the exports at its start and at its end stamp them alike."""
    replica = data.with_name(data.name + "_replica")
    done = replica / "_converted"
    loaded_until = hourly_run_hour()[0]
    if not done.exists() or done.read_text() != loaded_until:
        as_replicated_parquet(data, replica, START.isoformat(), loaded_until)
        done.write_text(loaded_until)
    return replica


def dbt_build(data: Path, run_dir: Path, fresh: bool = True, dbt_vars: str = "") -> dict[str, Any]:
    """``dbt build`` with everything under ``run_dir``; timings and the slowest models."""
    run_dir.mkdir(parents=True, exist_ok=True)
    database = run_dir / "warehouse.duckdb"
    if fresh:
        for stale in (database, run_dir / "warehouse.duckdb.wal"):
            stale.unlink(missing_ok=True)
    env = {
        "BITRIX_DATA_DIR": str(data),
        "BITRIX_OMNI_DUCKDB_PATH": str(database),
        "BITRIX_OMNI_TARGET": "dev",
    }
    return measured_build(["build", *(["--vars", dbt_vars] if dbt_vars else [])], env, run_dir)


def measured_build(args: list[str], env: dict[str, str], run_dir: Path) -> dict[str, Any]:
    """``dbt <args>`` of this project with ``env`` on top of this process's environment and
    ``target/``, ``logs/`` under ``run_dir``; timings, node time by layer, slowest models."""
    run_dir.mkdir(parents=True, exist_ok=True)
    full_env = {
        **os.environ,
        "DBT_PROFILES_DIR": str(PROJECT_DIR),
        "DBT_TARGET_PATH": str(run_dir / "target"),
        "DBT_LOG_PATH": str(run_dir / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        **env,
    }
    dbt = shutil.which("dbt", path=str(Path(sys.executable).parent)) or "dbt"
    usage = _run_measured([dbt, *args], env=full_env, cwd=PROJECT_DIR)
    results = json.loads((run_dir / "target" / "run_results.json").read_text())
    models = sorted(
        (
            (r["execution_time"], r["unique_id"].split(".", 2)[-1])
            for r in results["results"]
            if r["unique_id"].startswith("model.")
        ),
        reverse=True,
    )
    return {
        **usage,
        "dbt_elapsed_seconds": round(results["elapsed_time"], 1),
        "seconds_by_layer": _seconds_by_layer(results["results"]),
        "top_models": [{"model": name, "seconds": round(t, 2)} for t, name in models[:15]],
    }


#: Node name prefixes of the layers (the first that matches).
LAYERS = (
    ("staging", "model.", "stg_"),
    ("identity", "model.", "int_identity__"),
    ("journeys", "model.", "int_journeys__"),
    ("marts", "model.", ""),
    ("seeds", "seed.", ""),
    ("tests", "test.", ""),
    ("tests", "unit_test.", ""),
)


def _seconds_by_layer(results: list[dict[str, Any]]) -> dict[str, float]:
    """Execution time summed per layer (node time: with two threads it exceeds the wall
    time), so an hourly run shows which layers still cost what a full build costs."""
    out: dict[str, float] = {}
    for result in results:
        kind, _, rest = result["unique_id"].partition(".")
        name = rest.split(".", 1)[-1]
        layer = next(
            (
                label
                for label, node, prefix in LAYERS
                if node == kind + "." and name.startswith(prefix)
            ),
            "other",
        )
        out[layer] = out.get(layer, 0.0) + result["execution_time"]
    return {layer: round(seconds, 1) for layer, seconds in out.items()}


def hourly_run_hour() -> tuple[str, str]:
    """The start and end of the hourly run's hour, as the export writes times: the last
    hour of the shop's steady activity in the generated window."""
    end = activity_end(START, DAYS)
    start = end - dt.timedelta(hours=1)
    return start.strftime("%Y-%m-%d %H:%M:%S"), end.strftime("%Y-%m-%d %H:%M:%S")


def hourly_exports(work: Path, data: Path, customers: int, seed: int) -> dict[str, Any]:
    """The export as it was at the start (``early``) and at the end (``current``) of the
    hourly run's hour, each cut once from ``data`` and cached with its raw row count."""
    start, end = hourly_run_hour()
    out: dict[str, Any] = {"hour": [start, end]}
    for name, cutoff in (("early", start), ("current", end)):
        target = work / f"data_{customers}_s{seed}_until_{cutoff[:13].replace(' ', '_')}"
        marker = target / "_cut.json"
        cut = json.loads(marker.read_text()) if marker.exists() else {}
        if cut.get("cutoff") != cutoff:
            export_until(data, target, cutoff)
            cut = {"cutoff": cutoff, "raw_rows": sum(table_rows(target).values())}
            marker.write_text(json.dumps(cut))
        out[name] = target
        out[f"{name}_raw_rows"] = cut["raw_rows"]
    out["new_raw_rows"] = out["current_raw_rows"] - out["early_raw_rows"]
    return out


def table_rows(export: Path) -> dict[str, int]:
    """Raw rows per Bitrix table of a CSV export (not the ground-truth file)."""
    return {
        path.stem: _csv_rows(path) for path in sorted(export.glob("*.csv")) if path.stem[0] != "_"
    }


def run_size(
    work: Path, customers: int, seed: int, incremental: bool, loaded_at: bool = False
) -> dict[str, Any]:
    data, info = generated(work, customers, seed)
    exports = hourly_exports(work, data, customers, seed)
    source = replicated if loaded_at else (lambda export: export)
    dbt_vars = LOADED_AT_VARS if loaded_at else ""
    runs = work / (f"runs_{customers}_loaded_at" if loaded_at else f"run_{customers}")
    full = dbt_build(
        source(exports["current"]), runs.with_name(runs.name + "_full"), dbt_vars=dbt_vars
    )
    row: dict[str, Any] = {
        "customers": customers,
        "export": "replicated Parquet with _LOADED_AT" if loaded_at else "CSV",
        **info,
        "generated_raw_rows": info["raw_rows"],
        "raw_rows": exports["current_raw_rows"],
        "cut_at": exports["hour"][1],
        "full_build": full,
        "raw_rows_per_second": round(exports["current_raw_rows"] / full["seconds"]),
    }
    if incremental:
        cutoff = exports["hour"][0]
        run_dir = runs.with_name(runs.name + "_incremental")
        first = dbt_build(source(exports["early"]), run_dir, dbt_vars=dbt_vars)
        try:
            second = dbt_build(source(exports["current"]), run_dir, fresh=False, dbt_vars=dbt_vars)
        except RuntimeError as err:  # reported, not hidden: the table says "failed"
            row["incremental"] = {"cutoff": cutoff, "error": str(err)[-1500:]}
            return row
        row["incremental"] = {
            "cutoff": cutoff,
            "new_raw_rows": exports["new_raw_rows"],
            "first_build_seconds": first["seconds"],
            "hourly_run": second,
            "fraction_of_full_build": round(second["seconds"] / full["seconds"], 2),
        }
    return row


def _machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "machine": platform.machine(),
    }


def _print(rows: list[dict[str, Any]]) -> None:
    print(f"machine: {_machine()}")
    head = [
        "customers",
        "raw rows",
        "build s",
        "cpu s",
        "peak MiB",
        "rows/s",
        "hourly s",
        "hourly/full",
    ]
    print(" | ".join(f"{h:>11}" for h in head))
    for row in rows:
        inc = row.get("incremental", {})
        if "error" in inc:
            inc = {"hourly_run": {"seconds": "failed"}, "fraction_of_full_build": ""}
        cells = [
            f"{row['customers']:,}",
            f"{row['raw_rows']:,}",
            row["full_build"]["seconds"],
            row["full_build"]["cpu_seconds"],
            f"{row['full_build']['peak_rss_mib']:,}",
            f"{row['raw_rows_per_second']:,}",
            inc.get("hourly_run", {}).get("seconds", ""),
            inc.get("fraction_of_full_build", ""),
        ]
        print(" | ".join(f"{c!s:>11}" for c in cells))
    for row in rows:
        print_layers(row)
    for row in rows:
        print(f"\nslowest models, {row['customers']:,} customers (seconds):")
        for model in row["full_build"]["top_models"]:
            print(f"  {model['seconds']:>8}  {model['model']}")
        if "hourly_run" in row.get("incremental", {}):
            print(f"slowest models of the hourly run, {row['customers']:,} customers:")
            for model in row["incremental"]["hourly_run"]["top_models"][:5]:
                print(f"  {model['seconds']:>8}  {model['model']}")


def print_layers(row: dict[str, Any]) -> None:
    """Node time by layer of one size's full build and hourly run."""
    print(f"\nnode time by layer, {row['customers']:,} customers (seconds):")
    hourly = row.get("incremental", {}).get("hourly_run", {}).get("seconds_by_layer", {})
    for layer, seconds in row["full_build"]["seconds_by_layer"].items():
        print(f"  {layer:<10} full {seconds:>8}  hourly {hourly.get(layer, '')!s:>8}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--customers", type=int, nargs="+", default=[100_000, 1_000_000], help="sizes"
    )
    parser.add_argument("--with-10m", action="store_true", help="also 10M customers")
    parser.add_argument(
        "--work", type=Path, default=Path("/tmp/bitrix_omni_bench"), help="cache and runs"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-incremental", action="store_true", help="full builds only")
    parser.add_argument(
        "--loaded-at",
        action="store_true",
        help="build from replicated Parquet files with a load-time column",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    sizes = list(args.customers) + ([10_000_000] if args.with_10m else [])
    rows = []
    for customers in sizes:
        rows.append(
            run_size(args.work, customers, args.seed, not args.no_incremental, args.loaded_at)
        )
        print(f"done {customers:,} customers", file=sys.stderr)
    if args.json:
        print(json.dumps({"machine": _machine(), "sizes": rows}, indent=2))
    else:
        _print(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
