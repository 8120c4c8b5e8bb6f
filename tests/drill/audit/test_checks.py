"""Each AST check on small pieces of code: what it reports, and what it must leave alone."""

import textwrap
from pathlib import Path

import pytest

from drill.audit import audit
from drill.checklist import Item


def findings(tmp_path: Path, code: str, name: str = "mod.py") -> set[tuple[int, Item]]:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(code))
    return {(f.line, f.item) for f in audit(tmp_path, [path])}


def test_hallucinated_module_attributes_and_names_are_reported(tmp_path: Path) -> None:
    code = """
        import httpx
        from tenacity import retry_if_http_status
        from services.kit.logging import log_error
        import no_such_module_anywhere

        client = httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(retries=3))
        result = httpx.retry_async(client)
    """
    kit = tmp_path / "services/kit"
    kit.mkdir(parents=True)
    (tmp_path / "services/__init__.py").write_text("")
    (kit / "__init__.py").write_text("")
    (kit / "logging.py").write_text("def fields() -> None: ...\n")

    assert findings(tmp_path, code) == {
        (3, Item.HALLUCINATED_API),
        (4, Item.HALLUCINATED_API),
        (5, Item.HALLUCINATED_API),
        (8, Item.HALLUCINATED_API),
    }


def test_names_made_at_import_time_are_not_guessed_at(tmp_path: Path) -> None:
    code = """
        import re
        import pydantic
        try:
            import not_installed_optional
        except ImportError:
            not_installed_optional = None
        flags = re.IGNORECASE | re.DOTALL
        model = pydantic.BaseModel
    """
    assert findings(tmp_path, code) == set()


def test_retries_need_a_stable_idempotency_key(tmp_path: Path) -> None:
    code = """
        import uuid
        import httpx
        from tenacity import retry, retry_if_exception_type

        @retry(retry=retry_if_exception_type(httpx.TransportError))
        def charge(client: httpx.Client, amount: str) -> None:
            key = str(uuid.uuid4())
            client.post("/v1/transactions", json={"amount": amount, "request_id": key})

        @retry(retry=retry_if_exception_type(httpx.TransportError))
        def charge_once(client: httpx.Client, amount: str, request_id: str) -> None:
            client.post("/v1/transactions", json={"amount": amount, "request_id": request_id})

        @retry(retry=retry_if_exception_type(httpx.ConnectError))
        def charge_before_sending(client: httpx.Client, amount: str) -> None:
            client.post("/v1/transactions", json={"amount": amount})
    """
    assert findings(tmp_path, code) == {(6, Item.RETRY_WITHOUT_IDEMPOTENCY)}


def test_error_paths_must_log_with_fields_or_raise(tmp_path: Path) -> None:
    code = """
        import logging
        import httpx
        logger = logging.getLogger("x")

        def swallowed() -> None:
            try:
                httpx.get("http://x", timeout=1)
            except httpx.HTTPError:
                return None

        def unstructured() -> None:
            try:
                httpx.get("http://x", timeout=1)
            except httpx.HTTPError as exc:
                logger.error(f"failed: {exc}")

        def fine() -> None:
            try:
                httpx.get("http://x", timeout=1)
            except httpx.HTTPError:
                logger.exception("catalog down", extra={"error_code": "catalog_down"})
            try:
                int("x")
            except ValueError:
                pass
    """
    assert findings(tmp_path, code) == {
        (9, Item.UNLOGGED_ERROR_PATH),
        (16, Item.UNLOGGED_ERROR_PATH),
    }


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("amount: float = 0\n", True),
        ("def unit_price() -> float: ...\n", True),
        ("x = float(row['amount'])\n", True),
        ("PRICE_TTL_S = 60.0\n", False),
        ("timeout_s: float = 5.0\n", False),
        ("from decimal import Decimal\namount: Decimal = Decimal('1.10')\n", False),
    ],
)
def test_float_money_is_recognised_by_the_name_of_the_money(
    tmp_path: Path, code: str, expected: bool
) -> None:
    assert bool(findings(tmp_path, code)) is expected


def test_a_reasoned_allow_marker_accepts_one_finding(tmp_path: Path) -> None:
    code = """
        amount: float = 0  # audit: allow[float-money] a metrics gauge, not the ledger
        # audit: allow[float-money]
        price: float = 0
    """
    assert findings(tmp_path, code) == {(4, Item.FLOAT_MONEY)}  # no reason given: not accepted


def test_a_new_service_dependency_that_closes_a_loop_is_a_call_cycle(tmp_path: Path) -> None:
    for service, callee in (("orders", "catalog"), ("catalog", "orders")):
        findings(
            tmp_path,
            f"class Settings:\n    {callee}_url: str = 'http://x'\n",
            f"services/{service}/settings.py",
        )
    found = {(f.path, f.item) for f in audit(tmp_path, [tmp_path / "services"])}

    assert found == {
        ("services/orders/settings.py", Item.CALL_CYCLE),
        ("services/catalog/settings.py", Item.CALL_CYCLE),
    }
