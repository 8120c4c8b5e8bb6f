"""Billing's settings: the kit's, plus lab tokens and the reconciliation schedule."""

from pydantic import Field

from services.kit.settings import ServiceSettings


class BillingSettings(ServiceSettings):
    """Environment variables of the billing service."""

    service_name: str = "billing"
    database_url: str = "sqlite:///./.drill/data/billing.db"
    # Documented lab defaults (README, runbooks/specs/billing.md); override them outside the lab.
    billing_writer_token: str = "drill-lab-writer"  # noqa: S105 - documented lab default
    billing_reader_token: str = "drill-lab-reader"  # noqa: S105 - documented lab default
    reconcile_interval_ms: int = Field(default=15_000, ge=100)
    # The ledger's history loaded into an empty database, so latency reflects a real-sized table.
    seed_history: bool = True
