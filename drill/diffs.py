"""Unified diffs as git writes them: which lines of the changed file each hunk covers.

Shared by `drill review show` (numbering a pull request's lines) and `drill audit --diff`
(keeping the findings on changed lines).
"""

import re

# A hunk header: where the hunk starts (and how long it is) in the file before and after.
HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(?P<start>\d+)(?:,(?P<count>\d+))? @@")


def hunk_lines(line: str) -> range | None:
    """For a hunk header, the lines of the file after the change that the hunk covers (empty
    when it only deletes; it then starts after line `start`); None for any other line."""
    match = HUNK.match(line)
    if match is None:
        return None
    start = int(match.group("start"))
    count = int(match.group("count") or "1")
    return range(start, start + count)
