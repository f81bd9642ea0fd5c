#!/usr/bin/env python3
"""Identity accuracy on generated data with known true persons (a script, not a test).

Generates a Bitrix export, runs `dbt build` on DuckDB, and prints pairwise precision and
recall of bl_customer_identity_map against the generator's _truth_persons.csv.

    python bench/accuracy.py --customers 5000 --seed 1 [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

from bitrix_omni.accuracy import pairwise_scores, read_truth
from bitrix_omni.generate import generate

PROJECT_DIR = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as work:
        data_dir = Path(work) / "export"
        generate(data_dir, args.customers, seed=args.seed)
        database = Path(work) / "warehouse.duckdb"
        env = {
            **os.environ,
            "BITRIX_DATA_DIR": str(data_dir),
            "BITRIX_OMNI_DUCKDB_PATH": str(database),
            "DBT_TARGET_PATH": str(Path(work) / "target"),
            "DBT_LOG_PATH": str(Path(work) / "logs"),
            "DBT_PROFILES_DIR": str(PROJECT_DIR),
        }
        dbt = Path(sys.executable).with_name("dbt")
        build = subprocess.run(
            [
                str(dbt),
                "build",
                "-s",
                "+bl_customer_identity_map",
                "--indirect-selection",
                "cautious",
            ],
            cwd=PROJECT_DIR,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if build.returncode != 0:
            print(build.stdout[-4000:], file=sys.stderr)
            return build.returncode
        with duckdb.connect(str(database), read_only=True) as connection:
            predicted = connection.execute(
                "select record_key, customer_uuid from main.bl_customer_identity_map"
            ).df()
        scores = pairwise_scores(predicted, read_truth(str(data_dir / "_truth_persons.csv")))

    figures = {
        "customers_generated": args.customers,
        "seed": args.seed,
        "records": scores.records,
        "predicted_pairs": scores.predicted_pairs,
        "true_pairs": scores.true_pairs,
        "precision": round(scores.precision, 4),
        "recall": round(scores.recall, 4),
    }
    if args.json:
        print(json.dumps(figures))
    else:
        for name, value in figures.items():
            print(f"{name:<20} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
