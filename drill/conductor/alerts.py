"""Firing alerts, read from Alertmanager (what pages) or, failing that, from Prometheus."""

from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from drill.services import ALERTMANAGER_PORT, PROMETHEUS_PORT, port_offset

TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Alert:
    """One firing alert."""

    name: str
    severity: str
    since: datetime | None
    summary: str


@dataclass(frozen=True)
class AlertReading:
    """What the alerting tools said: `source` is None when neither answered."""

    source: str | None
    alerts: list[Alert] = field(default_factory=list)
    note: str = ""


def parse_time(raw: str | None) -> datetime | None:
    """An RFC 3339 time as Alertmanager or Prometheus writes it (None if absent or unreadable)."""
    if not raw:
        return None
    try:
        # Both tools write RFC 3339 with up to nanoseconds; Python reads microseconds.
        head, dot, tail = raw.replace("Z", "+00:00").partition(".")
        if dot:
            zone_at = next((i for i, c in enumerate(tail) if not c.isdigit()), len(tail))
            raw = f"{head}.{tail[:zone_at][:6]}{tail[zone_at:]}"
        else:
            raw = head
        return datetime.fromisoformat(raw)
    except ValueError:
        return None


def _alertmanager(http: httpx.Client, url: str) -> list[Alert]:
    response = http.get(f"{url}/api/v2/alerts", params={"active": "true", "silenced": "false"})
    response.raise_for_status()
    return [
        Alert(
            a["labels"].get("alertname", "?"),
            a["labels"].get("severity", ""),
            parse_time(a.get("startsAt")),
            a.get("annotations", {}).get("summary", ""),
        )
        for a in response.json()
        if a.get("status", {}).get("state", "active") == "active"
    ]


def _prometheus(http: httpx.Client, url: str) -> list[Alert]:
    response = http.get(f"{url}/api/v1/alerts")
    response.raise_for_status()
    return [
        Alert(
            a["labels"].get("alertname", "?"),
            a["labels"].get("severity", ""),
            parse_time(a.get("activeAt")),
            a.get("annotations", {}).get("summary", ""),
        )
        for a in response.json()["data"]["alerts"]
        if a.get("state") == "firing"
    ]


def read_alerts() -> AlertReading:
    """Firing alerts from Alertmanager, else Prometheus; says so when neither answers."""
    offset = port_offset()
    sources = (
        ("Alertmanager", f"http://127.0.0.1:{ALERTMANAGER_PORT + offset}", _alertmanager),
        ("Prometheus", f"http://127.0.0.1:{PROMETHEUS_PORT + offset}", _prometheus),
    )
    tried = []
    with httpx.Client(timeout=TIMEOUT_S) as http:
        for name, url, read in sources:
            try:
                alerts = read(http, url)
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                tried.append(f"{name} at {url} ({type(exc).__name__})")
                continue
            merged: dict[str, Alert] = {}
            for alert in sorted(alerts, key=lambda a: a.since or datetime.max.replace(tzinfo=UTC)):
                merged.setdefault(alert.name, alert)  # one line per alert name, earliest first
            return AlertReading(f"{name} ({url})", list(merged.values()))
    return AlertReading(
        None,
        note="no alerts can be read: neither " + " nor ".join(tried) + " answers. Without "
        "Prometheus the lab has no alerts (apt-get install prometheus "
        "prometheus-alertmanager, then drill down && drill up).",
    )
