"""The pull-request checklist: one id per item, shared by review drills and `drill audit`.

The ids match runbooks/pr-checklist.md. They are the only place the items are named in code:
answer keys, `--finding FILE:LINE:ITEM`, audit findings and the drill log all use these values.
"""

from enum import StrEnum


class Item(StrEnum):
    """One item of the checklist a reviewer (or `drill audit`) checks a change against."""

    HALLUCINATED_API = "hallucinated-api"
    RBAC_MISMATCH = "rbac-mismatch"
    STRING_BUILT_SQL_OR_SHELL = "string-built-sql-or-shell"
    RETRY_WITHOUT_IDEMPOTENCY = "retry-without-idempotency"
    UNLOGGED_ERROR_PATH = "unlogged-error-path"
    UNBOUNDED_QUERY = "unbounded-query"
    FLOAT_MONEY = "float-money"
    CALL_CYCLE = "call-cycle"

    @property
    def summary(self) -> str:
        """What the item asks of a change, in one line."""
        return SUMMARIES[self]


SUMMARIES: dict[Item, str] = {
    Item.HALLUCINATED_API: "every library or API call exists (module, attribute, keyword)",
    Item.RBAC_MISMATCH: "each route demands the role the spec gives it (billing:read / :write)",
    Item.STRING_BUILT_SQL_OR_SHELL: "no SQL or shell command is built by string interpolation",
    Item.RETRY_WITHOUT_IDEMPOTENCY: "a retried write carries an idempotency key, fixed per intent",
    Item.UNLOGGED_ERROR_PATH: "every error path logs one structured line (error_code, trace_id)",
    Item.UNBOUNDED_QUERY: "every collection query has a LIMIT; no query per loop iteration",
    Item.FLOAT_MONEY: "money is Decimal / NUMERIC / a decimal string, never a float",
    Item.CALL_CYCLE: "no service calls end up back at the caller; outbound calls have timeouts",
}
