"""Scoring a submission against an answer key: found, missed, duplicates, false alarms."""

import pytest

from drill.checklist import Item
from drill.review.catalogue import Fault
from drill.review.scoring import BadFinding, Verdict, parse_finding, score

SQL = Fault("a.py", ((10, 12),), Item.STRING_BUILT_SQL_OR_SHELL, True, "why", None)
CYCLE = Fault("b.py", ((5, 5), (40, 41)), Item.CALL_CYCLE, True, "why", None)


def test_a_finding_matches_on_file_item_and_line_within_the_tolerance() -> None:
    result = score(
        (SQL, CYCLE),
        [parse_finding("a.py:14:string-built-sql-or-shell"), parse_finding("b.py:39:call-cycle")],
    )

    assert [v for _, v in result.verdicts] == [Verdict.FOUND, Verdict.FOUND]
    assert (result.found, len(result.missed), result.false_alarms) == (2, 0, 0)


def test_wrong_item_wrong_file_or_too_far_is_a_false_alarm_and_the_fault_is_missed() -> None:
    result = score(
        (SQL,),
        [
            parse_finding("a.py:11:float-money"),
            parse_finding("c.py:11:string-built-sql-or-shell"),
            parse_finding("a.py:15:string-built-sql-or-shell"),
        ],
    )

    assert (result.found, result.missed, result.false_alarms) == (0, (SQL,), 3)


def test_a_second_finding_on_a_found_fault_is_a_duplicate_not_a_false_alarm() -> None:
    result = score(
        (SQL,),
        [
            parse_finding("a.py:10:string-built-sql-or-shell"),
            parse_finding("./a.py:12:string-built-sql-or-shell"),
        ],
    )

    assert [v for _, v in result.verdicts] == [Verdict.FOUND, Verdict.DUPLICATE]
    assert (result.found, result.false_alarms, result.planted) == (1, 0, 1)


@pytest.mark.parametrize(
    "text", ["a.py:12", "a.py:x:float-money", "a.py:0:float-money", "a.py:3:nope", ":3:call-cycle"]
)
def test_a_malformed_finding_is_refused(text: str) -> None:
    with pytest.raises(BadFinding):
        parse_finding(text)
