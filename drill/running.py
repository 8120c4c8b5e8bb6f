"""Whether an incident drill is running now: the guard of the commands that would hand a team
its answers while it investigates (`drill audit` names the planted faults by file and line,
`drill review key` prints answer keys).

It sits below the features that ask (drill/audit, drill/review) and the one that records drills
(drill/conductor), so neither depends on the other: it reads the drill log (drill.datadir) with
a plain read-only query on the conductor's drills table, whose name the conductor's journal takes
from DRILLS_TABLE here. A drill is running while its row has no `ended_at`.
"""

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from drill.datadir import drill_log_path

# The conductor's table of drills in the drill log (drill/conductor/journal.py: DrillRow).
DRILLS_TABLE = "conductor_drills"


@dataclass(frozen=True)
class RunningDrill:
    """The drill running now, as the guard reports it."""

    id: int
    scenario: str
    team: str


def running_drill(path: Path | None = None) -> RunningDrill | None:
    """The drill running now (the latest one not ended), or None. Also None when the drill log
    does not exist or cannot be read: the commands that ask must not break on a broken log."""
    try:
        path = path or drill_log_path()
        if not path.is_file():
            return None
        # Read-only: asking never creates the file or a table in it.
        with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=15)) as db:
            row = db.execute(
                f"SELECT id, scenario, team FROM {DRILLS_TABLE} "  # noqa: S608 - a constant
                "WHERE ended_at IS NULL ORDER BY id DESC LIMIT 1"
            ).fetchone()
    except (OSError, sqlite3.Error):
        return None
    return None if row is None else RunningDrill(int(row[0]), str(row[1]), str(row[2]))


def refusal(what: str) -> str | None:
    """While a drill runs: the message refusing `what` until it ends (e.g. "the audit waits");
    None when no drill runs."""
    running = running_drill()
    if running is None:
        return None
    return f"drill #{running.id} is running; {what} until after: drill end"
