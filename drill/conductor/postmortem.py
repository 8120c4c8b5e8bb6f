"""`drill postmortem`: a blameless post-mortem in Markdown, written from the drill journal."""

from datetime import datetime

from drill.conductor import clock, impact
from drill.conductor.content import Content
from drill.conductor.journal import ALERT, DIAGNOSIS, ENDED, HINT, STARTED, VERIFY, Event
from drill.conductor.report import HINT_BUDGET, DrillSummary
from drill.scenarios import codename


def _at(summary: DrillSummary, when: datetime) -> str:
    return f"{when:%H:%M:%S} (+{clock.minutes(when - summary.drill.started_at)})"


def _describe(event: Event, content: Content | None, attempt: int) -> str:
    data = event.data
    if event.kind == STARTED:
        return "Drill started: faulty code in place, load started, page sent."
    if event.kind == ALERT:
        return f"Alert **{data.get('name')}** firing ({data.get('severity') or 'no severity'})."
    if event.kind == HINT:
        return f"Hint {data.get('number')} taken."
    if event.kind == DIAGNOSIS:
        answers = ", ".join(f"{k}: `{v}`" for k, v in data.get("answers", {}).items())
        verdict = "right" if data.get("correct") else "not right yet"
        return f"Root cause stated ({answers}): {verdict}."
    if event.kind == VERIFY:
        card = data.get("scorecard", {})
        checks = card.get("checks", [])
        failed = [c["name"] for c in checks if not c.get("passed")]
        if data.get("passed"):
            return (
                f"`drill verify` attempt {attempt}: **PASS**, fix verified ({len(checks)} checks)."
            )
        return (
            f"`drill verify` attempt {attempt}: FAIL, {len(failed)} of {len(checks)} checks "
            f"failed ({'; '.join(failed)})."
        )
    if event.kind == "load":
        return f"Load running: {data.get('users')} Locust users."
    if event.kind == ENDED:
        return "Drill ended" + (f": {data['reason']}." if data.get("reason") else "; load stopped.")
    return event.kind


def _timeline(summary: DrillSummary) -> list[str]:
    lines = ["| time (UTC) | what happened |", "|---|---|"]
    attempt = 0
    for event in summary.drill.events:
        if event.kind == "impact":
            continue  # samples, summarised under Impact
        if event.kind == VERIFY:
            attempt += 1
        lines.append(f"| {_at(summary, event.at)} | {_describe(event, summary.content, attempt)} |")
    return lines


def _impact(summary: DrillSummary) -> list[str]:
    lines: list[str] = []
    content = summary.content
    if content is not None and summary.worst_impact:
        lines += ["Worst values the services reported while the fault was live:", ""]
        for metric in content.impact:
            if metric.label in summary.worst_impact:
                value = impact.describe(metric, summary.worst_impact[metric.label])
                lines.append(f"- {metric.label}: {value}")
    else:
        lines.append("- No sample of the services' metrics was recorded during the drill.")
    locust = next(
        (e.data["locust"] for e in summary.drill.of_kind(ENDED) if "locust" in e.data), None
    )
    if locust:
        lines += [
            "",
            f"Client side (Locust, {locust['requests']} requests): {locust['failures']} failed "
            f"(timeouts and errors), P50 {locust['p50_ms']:.0f} ms, "
            f"P99 {locust['p99_ms']:.0f} ms, {locust['rps']:.1f} requests/s.",
        ]
    verifies = summary.drill.of_kind(VERIFY)
    if verifies:
        first = verifies[0].data.get("scorecard", {})
        lines += ["", "What the grader measured on the first `drill verify`:", ""]
        lines += [
            f"- {'PASS' if c.get('passed') else 'FAIL'} {c['name']}: {c['measured']}"
            for c in first.get("checks", [])
        ]
    return lines


def _metric(ok: bool, what: str, detail: str) -> str:
    return f"| {what} | {detail} | {'met' if ok else 'missed'} |"


def render(summary: DrillSummary, fix_note: str) -> str:
    """The post-mortem of one drill as Markdown. `fix_note` says what changed in the code."""
    drill, content = summary.drill, summary.content
    title = f"# Post-mortem: drill #{drill.id}, {codename(drill.scenario)}, team {drill.team}"
    lines = [
        title,
        "",
        "Blameless: this document describes what the system and the process did, not who erred. "
        "Every time below comes from the drill log.",
        "",
        f"- Started: {drill.started_at:%Y-%m-%d %H:%M:%S} UTC",
        "- Ended: "
        + (f"{drill.ended_at:%Y-%m-%d %H:%M:%S} UTC" if drill.ended_at else "still running"),
        "",
        "## The page",
        "",
        *(f"> {line}" for line in (content.pager.splitlines() if content else ["(unknown)"])),
        "",
        "## Timeline",
        "",
        *_timeline(summary),
        "",
        "## Root cause",
        "",
        content.root_cause if content else "(the scenario's content file is missing)",
        "",
        "## Impact measured during the drill",
        "",
        *_impact(summary),
        "",
        "## What fixed it",
        "",
        fix_note,
        "",
        "The reference fix, for comparison:",
        "",
        content.fix if content else "(unknown)",
        "",
        "## Guardrails to add",
        "",
        "To the spec template (runbooks/spec-template.md):",
        "",
        *(f"- [ ] {g}" for g in (content.spec_guardrails if content else ())),
        "",
        "To the PR checklist (runbooks/pr-checklist.md):",
        "",
        *(f"- [ ] {g}" for g in (content.pr_guardrails if content else ())),
        "",
        "## Success metrics",
        "",
        "| metric | measured | target |",
        "|---|---|---|",
        _metric(
            summary.isolated_in_time,
            "Root cause isolated in under 20 min",
            clock.minutes(summary.time_to_isolate)
            if summary.time_to_isolate
            else f"never stated right ({summary.diagnoses} attempts)",
        ),
        _metric(
            summary.fixed_in_time,
            "Fix verified within the 60 minutes",
            f"at {clock.minutes(summary.time_to_fix)}, after {summary.verify_attempts} attempt(s)"
            if summary.time_to_fix
            else f"not verified ({summary.verify_attempts} attempt(s))",
        ),
        _metric(
            summary.within_hint_budget,
            f"Hints used (at most {HINT_BUDGET})",
            f"{summary.hints_used} of {len(content.hints) if content else '?'}",
        ),
        "",
        "## Wrap-up questions",
        "",
        *(f"- {q}" for q in (content.wrap_up if content else ())),
        "",
    ]
    return "\n".join(lines)
