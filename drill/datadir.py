"""Where the drill log lives: the user's data directory, not the lab tree.

A team's drills, hints, diagnoses, verify attempts and review submissions outlive any one
checkout (an instructor resets or re-clones the lab between workshops), so they are kept per user,
in one SQLite file. `DRILL_DATA_DIR` moves it (the tests point it at a temporary folder).
"""

import os
from pathlib import Path

from platformdirs import user_data_path

APP_NAME = "drill-lab"


def data_dir() -> Path:
    """The folder holding the drill log, created on first use."""
    override = os.environ.get("DRILL_DATA_DIR")
    path = Path(override) if override else user_data_path(APP_NAME, appauthor=False)
    path.mkdir(parents=True, exist_ok=True)
    return path


def drill_log_path() -> Path:
    """The SQLite file of the drill log; every feature keeps its own tables in it."""
    return data_dir() / "drill.db"
