"""Process settings: the one place the environment is read (LEADFLOW_* variables).

Secrets come from the environment or, where LEADFLOW_SECRETS_DIR names a directory (Docker and
Kubernetes secrets), from one file per variable there, named like the variable
(`LEADFLOW_HUBSPOT_CLIENT_SECRET`). The environment wins over a file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

SECRETS_DIR_VARIABLE = "LEADFLOW_SECRETS_DIR"  # read by Settings.load, not a field itself


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEADFLOW_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    data_dir: Path = Path("var")
    config_dir: Path = Path("deploy/config")
    bus: Literal["sqlite", "kafka"] = "sqlite"
    kafka_bootstrap: str = "localhost:9092"
    kafka_idempotence: bool = True  # off only for brokers without it (the Tansu test broker)
    kafka_partitions: int = Field(default=6, ge=1)
    kafka_replication: int = Field(default=3, ge=1)  # 1 only for a single-broker dev setup
    database_url: str | None = None  # default: SQLite under data_dir
    api_token: SecretStr | None = None
    log_level: str = "info"
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    consumer_max_attempts: int = Field(default=5, ge=1)

    # Per-source webhook secrets. Never in YAML, never logged.
    hubspot_client_secret: SecretStr | None = None
    mailgun_signing_key: SecretStr | None = None
    sendgrid_secret: SecretStr | None = None  # SendGrid Inbound Parse is unsigned: a shared secret
    email_secret: SecretStr | None = None  # raw MIME posts
    linkedin_client_secret: SecretStr | None = None
    typeform_secret: SecretStr | None = None
    enrichment_api_key: SecretStr | None = None  # the HTTP enrichment provider (Clearbit/Apollo-style)
    # Standard Webhooks: source name -> space-separated active secrets ("whsec_new whsec_old").
    standard_secrets: dict[str, SecretStr] = Field(default_factory=dict)

    # Salesforce write-back and reading: an access token for an instance, or a user's
    # username + password + security token (the session is then renewed when it expires).
    salesforce_instance_url: str | None = None  # https://yourorg.my.salesforce.com
    salesforce_token: SecretStr | None = None
    salesforce_username: str | None = None
    salesforce_password: SecretStr | None = None
    salesforce_security_token: SecretStr | None = None
    salesforce_domain: str = "login"  # login, test (sandbox) or your My Domain prefix

    @property
    def salesforce_configured(self) -> bool:
        token = self.salesforce_instance_url is not None and self.salesforce_token is not None
        return token or (self.salesforce_username is not None and self.salesforce_password is not None)

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Settings from the environment (and LEADFLOW_SECRETS_DIR), with ``overrides`` on top."""
        secrets_dir = os.environ.get(SECRETS_DIR_VARIABLE)
        if secrets_dir:
            return cls(_secrets_dir=secrets_dir, **overrides)
        return cls(**overrides)

    @property
    def store_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'leadflow.db'}"
