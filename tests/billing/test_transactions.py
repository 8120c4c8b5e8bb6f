"""The billing API's contract: shape of answers, auth, validation, pagination."""

import re
import uuid

from fastapi.testclient import TestClient

from tests.billing.conftest import READER, WRITER


def body(user_id: str, amount: str = "12.30", request_id: str | None = None) -> dict[str, object]:
    return {
        "user_id": user_id,
        "action": "create",
        "amount": amount,
        "metadata": {"invoice": "INV-1"},
        "request_id": request_id or str(uuid.uuid4()),
    }


def test_a_posted_transaction_answers_with_the_contracted_fields(client: TestClient) -> None:
    user = str(uuid.uuid4())

    response = client.post("/v1/transactions", json=body(user), headers=WRITER)

    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == {"status", "data_id", "trace_id", "timestamp", "balance"}
    assert answer["status"] == 200
    uuid.UUID(answer["data_id"])
    assert re.fullmatch(r"[0-9a-f]{32}", answer["trace_id"])
    assert answer["timestamp"].endswith("Z")
    assert isinstance(answer["balance"], str)


def test_balance_counts_transactions_and_starts_empty(client: TestClient) -> None:
    user = str(uuid.uuid4())
    assert client.get(f"/v1/users/{user}/balance", headers=READER).json()["transaction_count"] == 0

    for amount in ("1.00", "2.00"):
        client.post("/v1/transactions", json=body(user, amount), headers=WRITER)

    balance = client.get(f"/v1/users/{user}/balance", headers=READER).json()
    assert balance["user_id"] == user
    assert balance["transaction_count"] == 2


def test_requests_without_a_valid_token_or_role_are_refused(client: TestClient) -> None:
    user = str(uuid.uuid4())

    missing = client.post("/v1/transactions", json=body(user))
    unknown = client.post(
        "/v1/transactions", json=body(user), headers={"Authorization": "Bearer x"}
    )
    reader = client.post("/v1/transactions", json=body(user), headers=READER)
    anonymous_read = client.get(f"/v1/users/{user}/balance")

    assert missing.status_code == unknown.status_code == anonymous_read.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert reader.status_code == 403
    assert reader.json()["error_code"] == "forbidden"
    assert client.get(f"/v1/users/{user}/balance", headers=READER).json()["transaction_count"] == 0


def test_malformed_user_ids_and_bodies_are_422_problems(client: TestClient) -> None:
    not_uuid = client.get("/v1/users/42/balance", headers=READER)
    no_user = client.post("/v1/transactions", json={"amount": "1.00"}, headers=WRITER)

    for response in (not_uuid, no_user):
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["error_code"] == "validation_error"


def test_history_pages_through_every_transaction_once_in_order(client: TestClient) -> None:
    user = str(uuid.uuid4())
    sent = [str(uuid.uuid4()) for _ in range(5)]
    for request_id in sent:
        client.post("/v1/transactions", json=body(user, request_id=request_id), headers=WRITER)

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = client.get(f"/v1/users/{user}/transactions", params=params, headers=READER).json()
        pages += 1
        assert len(page["items"]) <= 2
        seen += [item["request_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == sent
    assert pages == 3


def test_history_limits_are_bounded(client: TestClient) -> None:
    user = str(uuid.uuid4())
    for params in ({"limit": "101"}, {"limit": "0"}, {"cursor": "abc"}):
        response = client.get(f"/v1/users/{user}/transactions", params=params, headers=READER)
        assert response.status_code == 422, params


def test_a_cursor_past_every_seq_the_column_holds_is_an_empty_page(client: TestClient) -> None:
    user = str(uuid.uuid4())
    client.post("/v1/transactions", json=body(user), headers=WRITER)

    for cursor in ("2147483647", "087685844394131058", "999999999999999999"):
        params = {"cursor": cursor}
        response = client.get(f"/v1/users/{user}/transactions", params=params, headers=READER)
        assert response.status_code == 200, (cursor, response.text)
        assert response.json() == {"items": [], "next_cursor": None}
