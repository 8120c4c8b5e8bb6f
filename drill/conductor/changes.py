"""What the team changed to fix the drill, for the post-mortem's "What fixed it"."""

from pathlib import Path

from drill import fixes
from drill.git import git


def describe(root: Path, scenario: str) -> str:
    """The files changed from the committed (faulty) code, or that the reference fix was used."""
    if fixes.is_solved(root, scenario):
        return (
            "The reference fix was applied with `drill solve` (an instructor's demonstration, "
            "not the team's own change)."
        )
    shown = git(root, "diff", "--stat", "HEAD", "--", "services")
    if shown.returncode != 0:
        return "The team's own change to services/ (this tree has no git history to list it)."
    listed = shown.stdout.decode(errors="replace")
    if not listed.strip():
        return "No change to services/ against the committed code."
    stat = "\n".join(f"    {line}" for line in listed.rstrip().splitlines())
    return f"The team's own change to the code (`git diff --stat HEAD -- services`):\n\n{stat}"
