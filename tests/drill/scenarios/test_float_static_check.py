"""The grader's static check finds float however it is spelled, and nothing else."""

from pathlib import Path

from drill.scenarios.float_drift import float_uses


def write_billing(root: Path, source: str) -> None:
    package = root / "services" / "billing"
    package.mkdir(parents=True)
    (package / "ledger.py").write_text(source)


def test_every_spelling_of_float_is_found_with_its_line(tmp_path: Path) -> None:
    write_billing(
        tmp_path,
        "from sqlalchemy import Float\n"
        "import sqlalchemy as sa\n"
        "amount: float = 0\n"
        "column = sa.Float()\n"
        "total = float('1.10')\n"
        "rate = 0.5\n"
        "kind = sa.DOUBLE_PRECISION\n",
    )

    found = float_uses(tmp_path)

    assert found == [
        "services/billing/ledger.py:3 float",
        "services/billing/ledger.py:4 sa.Float",
        "services/billing/ledger.py:5 float",
        "services/billing/ledger.py:6 0.5",
        "services/billing/ledger.py:7 sa.DOUBLE_PRECISION",
    ]


def test_decimal_code_and_floatish_names_are_not_flagged(tmp_path: Path) -> None:
    write_billing(
        tmp_path,
        "from decimal import Decimal\n"
        "import json\n"
        "floating_total = Decimal('0.10') * 3\n"
        "data = json.loads('{}', parse_float=Decimal)\n"
        "text = 'float'\n",
    )

    assert float_uses(tmp_path) == []
