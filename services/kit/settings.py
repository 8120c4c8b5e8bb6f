"""Settings every service shares, read from environment variables (pydantic-settings)."""

from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Base class of every service's settings; a service subclasses it to add its own fields.

    Environment variables carry no prefix (DATABASE_URL, LOG_LEVEL, ...) so that the names in the
    docs (docs/contracts.md), the compose file and the local lab are the same.
    """

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str = "service"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    database_url: str = "sqlite:///./service.db"
    # The lab's request to start from the seed data again (services/kit/db.py, prepare_schema):
    # a fresh token per start it asks for; empty, as a real deployment runs, never.
    db_reset_token: str = ""
