"""The checklist items ruff's flake8-bandit rules already cover, run as `ruff check` with JSON.

Ruff is maintained, fast and already the project's linter; its bandit port finds SQL built by
string formatting and shell commands built for a shell better than anything we would write.
`--isolated` makes the selection ours whatever configuration the audited tree carries; a
`# noqa: S608` in the code is still honoured, as a reviewed exception.
"""

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from drill.audit.findings import Finding
from drill.checklist import Item

RULES: dict[str, Item] = {
    "S608": Item.STRING_BUILT_SQL_OR_SHELL,  # SQL built with string formatting
    "S602": Item.STRING_BUILT_SQL_OR_SHELL,  # subprocess with shell=True
    "S604": Item.STRING_BUILT_SQL_OR_SHELL,  # any call with shell=True
    "S605": Item.STRING_BUILT_SQL_OR_SHELL,  # os.system and friends: a shell
    "S609": Item.STRING_BUILT_SQL_OR_SHELL,  # shell wildcard injection
    "S611": Item.STRING_BUILT_SQL_OR_SHELL,  # Django RawSQL
    "S110": Item.UNLOGGED_ERROR_PATH,  # try / except Exception / pass
    "S112": Item.UNLOGGED_ERROR_PATH,  # try / except Exception / continue
    # A call with no timeout can wait forever: that is how a call cycle becomes a deadlock.
    "S113": Item.CALL_CYCLE,
}
# One ruff process per this many files keeps command lines far below the OS limit.
BATCH = 500


class RuffFailed(RuntimeError):
    """Ruff could not run, or answered something that is not its JSON report."""


def run(root: Path, files: Sequence[Path]) -> list[Finding]:
    """Ruff's findings on the files, as checklist findings (paths relative to root)."""
    findings: list[Finding] = []
    for start in range(0, len(files), BATCH):
        findings += _run_batch(root, files[start : start + BATCH])
    return findings


def _run_batch(root: Path, files: Sequence[Path]) -> list[Finding]:
    if not files:
        return []
    command = [
        sys.executable,
        "-m",
        "ruff",
        "check",
        "--isolated",
        "--no-cache",
        "--exit-zero",
        "--target-version",
        "py311",
        "--output-format",
        "json",
        "--select",
        ",".join(RULES),
        *(str(f) for f in files),
    ]
    # Arguments only, no shell: the file names come from the audited tree.
    result = subprocess.run(  # noqa: S603
        command, cwd=root, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuffFailed(f"ruff failed ({result.returncode}): {result.stderr.strip()}")
    try:
        report = json.loads(result.stdout or "[]")
    except json.JSONDecodeError as exc:
        raise RuffFailed(f"ruff answered no JSON: {result.stdout[:200]!r}") from exc
    findings = []
    for entry in report:
        code = entry.get("code")
        if code not in RULES:
            continue
        path = Path(entry["filename"]).resolve()
        findings.append(
            Finding(
                path.relative_to(root).as_posix(),
                int(entry["location"]["row"]),
                RULES[code],
                f"{entry['message']} (ruff {code})",
                f"ruff:{code}",
            )
        )
    return findings
