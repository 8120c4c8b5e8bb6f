"""docs/contracts.md, read as data: its tables are what the tests hold the code to."""

import re
from pathlib import Path

CONTRACTS = Path(__file__).resolve().parent.parent / "docs" / "contracts.md"


def table(heading: str) -> list[dict[str, str]]:
    """The first table under the `## heading` of docs/contracts.md, one dict per row (cells
    stripped of surrounding backticks)."""
    text = CONTRACTS.read_text(encoding="utf-8")
    section = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert section is not None, f"no section {heading!r} in {CONTRACTS}"
    rows = [line for line in section.group(1).splitlines() if line.startswith("|")]
    assert len(rows) > 2, f"no table under {heading!r} in {CONTRACTS}"

    def cells(line: str) -> list[str]:
        return [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]

    header = cells(rows[0])
    return [dict(zip(header, cells(row), strict=True)) for row in rows[2:]]


def ports() -> dict[str, set[int]]:
    """The host ports of each service and tool, by name."""
    return {row["name"]: {int(port) for port in row["port"].split(",")} for row in table("Ports")}


def alerts() -> dict[str, dict[str, str]]:
    """The alerts, by name."""
    return {row["alert"]: row for row in table("Alerts")}
