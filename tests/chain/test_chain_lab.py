"""The chain as real processes (the local lab): a quote crosses a -> b -> c with one trace, and
errors travel back as problem+json."""

import json
import uuid
from pathlib import Path

import httpx
import pytest

from drill.services import SERVICES
from services.chain.pricing import tier_of

pytestmark = pytest.mark.slow


def log_lines(tree: Path, service: str) -> list[dict[str, object]]:
    text = (tree / ".drill" / "logs" / f"{service}.log").read_text()
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_a_quote_crosses_the_chain_with_one_trace(lab: Path) -> None:
    customer = uuid.uuid4()
    body = {"customer_id": str(customer), "items": [{"sku": "SKU-BAGEL", "qty": 3}]}

    response = httpx.post(f"{SERVICES['service-a'].url}/v1/quote", json=body, timeout=10)

    assert response.status_code == 200
    quote = response.json()
    want = {"bronze": "9.99", "silver": "9.49", "gold": "8.99"}[tier_of(customer)]
    assert quote["total"] == want
    uuid.UUID(quote["quote_id"])
    # Every hop logged its access line under the trace_id the client got back.
    for service in ("service-a", "service-b", "service-c"):
        traces = {line["trace_id"] for line in log_lines(lab, service)}
        assert quote["trace_id"] in traces, service


def test_an_unknown_sku_is_422_from_pricing_passed_back_by_quotes(lab: Path) -> None:
    body = {"customer_id": str(uuid.uuid4()), "items": [{"sku": "SKU-NOPE", "qty": 1}]}

    response = httpx.post(f"{SERVICES['service-a'].url}/v1/quote", json=body, timeout=10)

    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["error_code"] == "unknown_sku"
