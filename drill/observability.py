"""Prometheus and Alertmanager beside the local lab, from Debian's packages when installed.

They run with the same rule files as the Docker lab (infra/prometheus/rules/). The scrape
configuration is infra/prometheus/prometheus.yml, rendered into .drill/ with its ports shifted by
DRILL_PORT_OFFSET and its rule paths made absolute, so one file serves every local lab.
"""

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from drill.lab import Launch
from drill.paths import state_dir
from drill.services import ALERTMANAGER_PORT, PROMETHEUS_PORT, port_offset

INSTALL_HINT = "apt-get install prometheus prometheus-alertmanager"


def _shift(target: str) -> str:
    host, port = target.rsplit(":", 1)
    return f"{host}:{int(port) + port_offset()}"


def render_prometheus_config(root: Path) -> Path:
    """Write the local lab's Prometheus configuration into .drill/ and return its path."""
    source = root / "infra" / "prometheus" / "prometheus.yml"
    config: dict[str, Any] = yaml.safe_load(source.read_text())
    config["rule_files"] = [str(root / "infra" / "prometheus" / "rules" / "*.yml")]
    for manager in config.get("alerting", {}).get("alertmanagers", []):
        for static in manager.get("static_configs", []):
            static["targets"] = [_shift(target) for target in static["targets"]]
    for job in config.get("scrape_configs", []):
        for static in job.get("static_configs", []):
            static["targets"] = [_shift(target) for target in static["targets"]]
    rendered = state_dir(root) / "prometheus" / "prometheus.yml"
    rendered.parent.mkdir(parents=True, exist_ok=True)
    rendered.write_text(
        f"# Rendered by drill up from {source}; edit that file.\n" + yaml.safe_dump(config)
    )
    return rendered


def launches(root: Path, note: Callable[[str], None]) -> list[Launch]:
    """Prometheus and Alertmanager for the local lab: those installed; a note for the others."""
    found: list[Launch] = []
    prometheus = shutil.which("prometheus")
    if not (root / "infra" / "prometheus" / "prometheus.yml").is_file():
        note(f"No infra/prometheus/prometheus.yml in {root}: no Prometheus for this lab.")
    elif prometheus is None:
        note(f"Prometheus is not installed, so no alerts in the local lab ({INSTALL_HINT}).")
    else:
        port = PROMETHEUS_PORT + port_offset()
        data = state_dir(root) / "prometheus" / "data"
        argv = [
            prometheus,
            f"--config.file={render_prometheus_config(root)}",
            f"--storage.tsdb.path={data}",
            "--storage.tsdb.retention.time=1d",
            f"--web.listen-address=127.0.0.1:{port}",
        ]
        found.append(Launch("prometheus", argv, port, "/-/ready"))
    alertmanager = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    config = root / "infra" / "alertmanager" / "alertmanager.yml"
    if alertmanager is None:
        note(f"Alertmanager is not installed: alerts show in Prometheus only ({INSTALL_HINT}).")
    elif config.is_file():
        port = ALERTMANAGER_PORT + port_offset()
        argv = [
            alertmanager,
            f"--config.file={config}",
            f"--storage.path={state_dir(root) / 'alertmanager'}",
            f"--web.listen-address=127.0.0.1:{port}",
            # One instance: no gossip port to open, nothing to find on the network.
            "--cluster.listen-address=",
        ]
        found.append(Launch("alertmanager", argv, port, "/-/ready"))
    return found
