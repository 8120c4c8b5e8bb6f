"""How every `drill` command talks: one console for results, one for errors, and the exit codes.

Exit codes (docs/contracts.md): 0 success, 1 failure (for `verify`: a check failed; for `audit`:
findings), 2 bad usage or a lab that cannot be reached.
"""

import typer
from rich.console import Console

EXIT_FAIL = 1
EXIT_USAGE = 2

# emoji=False: "file.py:100:" in a finding is a path and a line, not an emoji code.
out = Console(emoji=False)
err = Console(stderr=True, emoji=False)


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    """Print `message` as an error and return the exit to raise (`raise fail(...)`)."""
    err.print(f"[bold red]error:[/] {message}", soft_wrap=True, highlight=False)
    return typer.Exit(code)
