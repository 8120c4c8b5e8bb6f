"""Review drills ("Find the Hallucination"): flawed pull requests, scored findings, a drill log.

`detection_rate(team)` is the share of planted faults a team has found over its submissions.
"""

from drill.review.store import detection_rate

__all__ = ["detection_rate"]
