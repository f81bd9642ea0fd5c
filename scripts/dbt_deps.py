#!/usr/bin/env python3
"""Install the dbt packages named in packages.yml, offline if need be.

`dbt deps` downloads from the dbt package hub. Where the hub cannot be reached (air-gapped
CI, a warehouse host without internet), the same packages are copied from a local folder of
package copies instead: `$BITRIX_OMNI_DBT_PACKAGES_DIR`, else `../shared/dbt_packages` next to
the project. A user with network never needs the fallback.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def hub_package_names(packages_yml: Path) -> list[str]:
    """Names (the part after the slash) of the hub packages listed in packages.yml."""
    names = []
    for line in packages_yml.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("- package:"):
            full_name = stripped.split(":", 1)[1].strip().strip("'\"")
            names.append(full_name.split("/")[-1])
    return names


def offline_dirs() -> list[Path]:
    configured = os.environ.get("BITRIX_OMNI_DBT_PACKAGES_DIR")
    candidates = [Path(configured)] if configured else []
    candidates.append(PROJECT_DIR.parent / "shared" / "dbt_packages")
    return [path for path in candidates if path.is_dir()]


def copy_offline(names: list[str], target: Path) -> None:
    sources = offline_dirs()
    target.mkdir(exist_ok=True)
    for name in names:
        found = next((folder / name for folder in sources if (folder / name).is_dir()), None)
        if found is None:
            looked = ", ".join(str(folder) for folder in sources) or "(no offline folder found)"
            sys.exit(f"dbt package {name} is neither downloadable nor in {looked}")
        shutil.rmtree(target / name, ignore_errors=True)
        shutil.copytree(found, target / name)
        print(f"installed dbt package {name} from {found}")


def main() -> int:
    names = hub_package_names(PROJECT_DIR / "packages.yml")
    target = PROJECT_DIR / "dbt_packages"
    if all((target / name).is_dir() for name in names) and os.environ.get("FORCE_DEPS") != "1":
        print("dbt packages already installed: " + ", ".join(names))
        return 0
    dbt = Path(sys.executable).with_name("dbt")
    result = subprocess.run(
        [str(dbt), "deps"], cwd=PROJECT_DIR, capture_output=True, text=True, check=False
    )
    if result.returncode == 0:
        print("dbt deps: installed from the package hub")
        return 0
    print("dbt deps could not reach the package hub; using the offline package copies")
    copy_offline(names, target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
