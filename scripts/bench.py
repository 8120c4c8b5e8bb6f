"""`make bench`: grader run time and billing P99 at the grader's load, poisoned against fixed.

Runs everything in a temporary copy of the tree (never the working tree), one variant after the
other in one run, so the two columns share the same machine conditions. Prints a Markdown table
to paste into docs/benchmarks.md.
"""

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from drill.scenarios import registry

ROOT = Path(__file__).resolve().parent.parent


def drill(tree: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed argv, no shell
        [sys.executable, "-m", "drill", *args],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    )


def measure(tree: Path, scenario: str) -> dict[str, str]:
    start = time.perf_counter()
    up = drill(tree, "up", "--mode", "local")
    started = time.perf_counter() - start
    if up.returncode != 0:
        raise SystemExit(f"drill up failed:\n{up.stdout}{up.stderr}")
    try:
        start = time.perf_counter()
        verify = drill(tree, "verify", scenario, "--json")
        graded = time.perf_counter() - start
    finally:
        drill(tree, "down")
    card = json.loads(verify.stdout)
    latency = " / ".join(c["measured"] for c in card["checks"] if c["name"].startswith("P99"))
    failed = sum(not c["passed"] for c in card["checks"])
    return {
        "lab start (s)": f"{started:.1f}",
        "grader run (s)": f"{graded:.1f}",
        "checks failed": f"{failed}/{len(card['checks'])}",
        "load check": latency,
    }


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp)
        for part in ("services", "solutions", "infra"):
            shutil.copytree(ROOT / part, tree / part)
        for scenario in registry():
            rows.append((scenario, "poisoned", measure(tree, scenario)))
            drill(tree, "solve", scenario)
            rows.append((scenario, "fixed", measure(tree, scenario)))
    columns = list(rows[0][2])
    print("| scenario | code | " + " | ".join(columns) + " |")
    print("|---|---|" + "---|" * len(columns))
    for scenario, variant, values in rows:
        print(f"| {scenario} | {variant} | " + " | ".join(values[c] for c in columns) + " |")


if __name__ == "__main__":
    main()
