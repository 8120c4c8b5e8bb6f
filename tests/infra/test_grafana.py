"""Grafana's provisioning (infra/grafana/provisioning), checked without Grafana, which cannot run
on these machines: datasources with fixed uids, dashboards well formed and pointing only at
those uids, and every panel's PromQL accepted by a REAL Prometheus' query API.

The PromQL check starts Debian's `prometheus` binary (.ci/run installs it) with an empty
configuration on a free 127.0.0.1 port, and queries it: a query of series that do not exist yet
answers "success" with no data, a malformed one answers an error. Without the binary those
tests skip and say so.
"""

import json
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PROVISIONING = REPO / "infra" / "grafana" / "provisioning"
DASHBOARD_FILES = sorted((PROVISIONING / "dashboards" / "drill").glob("*.json"))
# Where compose mounts PROVISIONING inside the Grafana container.
CONTAINER_PROVISIONING = "/etc/grafana/provisioning"
# Dashboards are named by the drills' codenames, as trainees know them.
SCENARIOS = ("ledger-mismatch", "quote-timeouts", "slow-orders")

# Grafana's variables, replaced by what Grafana would put there for a 15-minute view.
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "15m",
    "$service": ".+",
}


def _yaml(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict), f"{path} is not a YAML mapping"
    return loaded


DATASOURCES: dict[str, dict[str, Any]] = {
    source["uid"]: source
    for source in _yaml(PROVISIONING / "datasources" / "datasources.yml")["datasources"]
}


def _dashboard(path: Path) -> dict[str, Any]:
    loaded = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict), f"{path.name} is not a JSON object"
    return loaded


DASHBOARDS = {path.name: _dashboard(path) for path in DASHBOARD_FILES}


def _panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, those inside rows included."""
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def _expressions() -> list[tuple[str, str]]:
    """(where, PromQL) for every query of every dashboard: panel targets and variables."""
    found: list[tuple[str, str]] = []
    for name, dashboard in DASHBOARDS.items():
        for panel in _panels(dashboard):
            for target in panel.get("targets", []):
                found.append((f"{name}: {panel['title']} [{target['refId']}]", target["expr"]))
        for variable in dashboard["templating"]["list"]:
            if variable["type"] == "query":
                # label_values(SELECTOR, label) is Grafana's; the selector inside is PromQL.
                query = variable["query"]["query"]
                match = re.fullmatch(r"label_values\((.+),\s*\w+\)", query)
                assert match, f"{name}: variable {variable['name']}: {query}"
                found.append((f"{name}: variable ${variable['name']}", match.group(1)))
    return found


EXPRESSIONS = _expressions()


def _concrete(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"a Grafana variable the test does not know: {expr}"
    return expr


def test_datasources_have_the_fixed_uids_the_dashboards_use() -> None:
    assert DATASOURCES.keys() == {"prometheus", "jaeger", "alertmanager"}
    assert DATASOURCES["prometheus"]["type"] == "prometheus"
    assert DATASOURCES["prometheus"]["url"] == "http://prometheus:9090"
    assert DATASOURCES["jaeger"]["type"] == "jaeger"
    assert DATASOURCES["jaeger"]["url"] == "http://jaeger:16686"
    assert all(source["editable"] is False for source in DATASOURCES.values())


def test_latency_exemplars_link_the_trace_id_to_jaeger() -> None:
    destinations = DATASOURCES["prometheus"]["jsonData"]["exemplarTraceIdDestinations"]
    # services/kit/middleware.py attaches the exemplar as {"trace_id": ...}.
    assert {"name": "trace_id", "datasourceUid": "jaeger"} in destinations
    for destination in destinations:
        assert destination["datasourceUid"] in DATASOURCES


def test_the_dashboard_provider_loads_the_dashboards_folder() -> None:
    (provider,) = _yaml(PROVISIONING / "dashboards" / "dashboards.yml")["providers"]
    path = provider["options"]["path"]
    assert path.startswith(CONTAINER_PROVISIONING + "/")
    assert (
        PROVISIONING / path.removeprefix(CONTAINER_PROVISIONING + "/") == DASHBOARD_FILES[0].parent
    )
    assert provider["allowUiUpdates"] is False


def test_there_is_an_overview_and_a_dashboard_per_scenario() -> None:
    assert {"overview.json", *(f"{scenario}.json" for scenario in SCENARIOS)} <= DASHBOARDS.keys()
    uids = [dashboard["uid"] for dashboard in DASHBOARDS.values()]
    assert len(uids) == len(set(uids)), "two dashboards share a uid"
    for scenario in SCENARIOS:
        assert scenario in DASHBOARDS[f"{scenario}.json"]["tags"]


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_dashboard_is_well_formed(name: str) -> None:
    dashboard = DASHBOARDS[name]
    for key in ("uid", "title", "panels", "schemaVersion", "templating"):
        assert key in dashboard, f"{name}: no {key}"
    assert dashboard["editable"] is False
    ids = [panel["id"] for panel in _panels(dashboard)]
    assert len(ids) == len(set(ids)), f"{name}: panel ids repeat"
    for panel in _panels(dashboard):
        position = panel["gridPos"]
        assert position["x"] >= 0 and position["x"] + position["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            assert panel["targets"], f"{name}: {panel['title']} has no query"
            assert panel.get("description"), f"{name}: {panel['title']} says nothing"


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_every_datasource_a_dashboard_names_is_provisioned(name: str) -> None:
    dashboard = DASHBOARDS[name]
    named = [
        reference
        for panel in _panels(dashboard)
        for reference in [
            panel.get("datasource"),
            *(t.get("datasource") for t in panel.get("targets", [])),
        ]
        if reference is not None
    ]
    named += [variable["datasource"] for variable in dashboard["templating"]["list"]]
    assert named
    for reference in named:
        assert reference["uid"] in DATASOURCES, f"{name}: unknown datasource {reference}"
        assert reference["type"] == DATASOURCES[reference["uid"]]["type"]


def test_the_overview_shows_the_golden_signals_and_the_firing_alerts() -> None:
    text = json.dumps(DASHBOARDS["overview.json"])
    for signal in (
        "http_server_request_duration_seconds_count",
        "http_server_request_duration_seconds_bucket",
        "http_server_requests_in_flight",
        "ALERTS",
        'status=~\\"5..\\"',
    ):
        assert signal in text, f"the overview does not show {signal}"


@pytest.mark.parametrize(
    ("scenario", "metrics"),
    [
        ("ledger-mismatch", ["billing_ledger_drift_accounts", "billing_duplicate_charges"]),
        ("quote-timeouts", ["chain_workers_busy", "chain_workers_max", "chain_workers_queued"]),
        ("slow-orders", ["orders_db_queries_per_request", "orders_catalog_calls_per_request"]),
    ],
)
def test_each_scenario_dashboard_shows_its_symptom(scenario: str, metrics: list[str]) -> None:
    text = json.dumps(DASHBOARDS[f"{scenario}.json"])
    for metric in [*metrics, "http_server_request_duration_seconds_bucket"]:
        assert metric in text, f"{scenario}.json does not show {metric}"
    if scenario == "quote-timeouts":
        assert "chain_upstream_timeouts_total" in text


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a real, empty Prometheus on a free loopback port."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip(
            "the prometheus binary is not installed: `apt-get install prometheus` (Debian 12) "
            "provides it; .ci/run installs it in CI"
        )
    workdir = tmp_path_factory.mktemp("prometheus")
    config = workdir / "prometheus.yml"
    config.write_text("# empty: nothing scraped, only the query API is used\n", encoding="utf-8")
    url = f"http://127.0.0.1:{_free_port()}"
    log = (workdir / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address={url.removeprefix('http://')}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _get(f"{url}/-/ready")[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(
                    "prometheus did not become ready: "
                    + (workdir / "prometheus.log").read_text(errors="replace")[-2000:]
                )
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


@pytest.mark.parametrize(("where", "expr"), EXPRESSIONS, ids=[where for where, _ in EXPRESSIONS])
def test_prometheus_accepts_the_panel_s_promql(prometheus: str, where: str, expr: str) -> None:
    query = urllib.parse.urlencode({"query": _concrete(expr)})
    status, body = _get(f"{prometheus}/api/v1/query?{query}", timeout=10)
    answer = json.loads(body)
    assert status == 200 and answer["status"] == "success", f"{where}: {expr}\n{answer}"


def test_compose_mounts_the_provisioning_read_only_and_opens_on_the_overview() -> None:
    compose = _yaml(REPO / "docker-compose.yml")
    grafana = compose["services"]["grafana"]
    assert f"./infra/grafana/provisioning:{CONTAINER_PROVISIONING}:ro" in grafana["volumes"]
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(CONTAINER_PROVISIONING + "/")
    local = PROVISIONING / home.removeprefix(CONTAINER_PROVISIONING + "/")
    assert local.name == "overview.json" and local.is_file()
