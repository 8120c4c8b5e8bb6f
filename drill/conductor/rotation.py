"""`drill start --random`: the next scenario for a team, one it has not drilled yet."""

import random
from collections import Counter
from collections.abc import Sequence

from drill.conductor.journal import Drill


def pick(
    scenarios: Sequence[str], done: Sequence[Drill], rng: random.Random | None = None
) -> tuple[str, str]:
    """A scenario the team has not done, at random; once it has done them all, one of those it
    has done least often. Returns (scenario, why)."""
    chooser = rng or random.Random()  # noqa: S311 - a drill rotation, not a secret
    counts = Counter(d.scenario for d in done)
    fresh = [s for s in scenarios if counts[s] == 0]
    if fresh:
        return chooser.choice(fresh), f"not drilled by this team yet ({len(fresh)} left)"
    fewest = min(counts[s] for s in scenarios)
    least = [s for s in scenarios if counts[s] == fewest]
    return chooser.choice(least), f"every scenario drilled; this one {fewest} time(s) so far"
