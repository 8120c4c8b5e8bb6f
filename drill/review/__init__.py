"""Review drills ("Find the Hallucination"): flawed pull requests, scored findings, a drill log.

`detection_rate(team)` is the share of planted faults a team has found over its submissions (the
hallucination detection rate `drill report` shows beside the team's incident drills).
"""

from drill.review.store import ReviewStoreError, TeamScore, detection_rate, team_score, teams

__all__ = ["ReviewStoreError", "TeamScore", "detection_rate", "team_score", "teams"]
