"""Process settings: the one place the environment is read (LEADFLOW_* variables).

Secrets come from the environment or, where LEADFLOW_SECRETS_DIR names a directory (Docker and
Kubernetes secrets), from one file per variable there, named like the variable
(`LEADFLOW_HUBSPOT_CLIENT_SECRET`). The environment wins over a file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from services.intake.signatures import secret_keys

SECRETS_DIR_VARIABLE = "LEADFLOW_SECRETS_DIR"  # read by Settings.load, not a field itself


class InvalidSettings(ValueError):
    """A LEADFLOW_* variable (or secrets file) that cannot be used: a process must not start."""


class Settings(BaseSettings):
    # Never echo a value in an error: most of these are secrets (a JSON typo in a secrets map too).
    model_config = SettingsConfigDict(env_prefix="LEADFLOW_", extra="ignore", hide_input_in_errors=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    # The proxies whose X-Forwarded-Proto/For uvicorn believes (comma-separated, or "*"): the
    # ingress in Kubernetes, so the dashboard's cookie is Secure behind TLS termination.
    forwarded_allow_ips: str = "127.0.0.1"
    data_dir: Path = Path("var")
    config_dir: Path = Path("deploy/config")
    bus: Literal["sqlite", "kafka"] = "sqlite"
    kafka_bootstrap: str = "localhost:9092"
    kafka_idempotence: bool = True  # off only for brokers without it (the Tansu test broker)
    kafka_partitions: int = Field(default=6, ge=1)
    kafka_replication: int = Field(default=3, ge=1)  # 1 only for a single-broker dev setup
    kafka_fetch_max_wait_ms: int = Field(default=50, ge=1, le=10_000)  # see KafkaSettings
    # SQLAlchemy async URL; default SQLite under data_dir. Secret: it usually holds a password.
    database_url: SecretStr | None = None
    database_pool_size: int = Field(default=5, ge=1)  # connections kept per process (PostgreSQL)
    database_max_overflow: int = Field(default=10, ge=0)  # opened beyond the pool under a burst
    database_pool_timeout: float = Field(default=30.0, gt=0)  # seconds to wait for a connection
    migrate_on_start: bool = True  # false at scale: `leadflow migrate` (a Job) upgrades the schema
    api_token: SecretStr | None = None
    # The dashboard's login token (default: the API token) and the key that signs its session
    # cookie. Unset secret: a random one per process (sessions end on restart and are not shared
    # by replicas; set it, the same everywhere, behind a load balancer).
    dashboard_token: SecretStr | None = None
    dashboard_secret: SecretStr | None = None
    dashboard_session_hours: float = Field(default=12, gt=0, le=24 * 30)
    log_level: str = "info"
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    consumer_max_attempts: int = Field(default=5, ge=1)
    # This process's share of each CRM account's request budget (crm.yaml limits): the vendors
    # count per account, so where qualifier and writer replicas call one account, their shares
    # times their replica counts should add up to at most 1 (deploy/k8s sets them so).
    crm_budget_share: float = Field(default=1.0, gt=0, le=1)
    config_reload: bool = True  # reload the config on SIGHUP and on file change
    # OTLP/HTTP collector base URL (spans go to .../v1/traces); unset: no tracing. The standard
    # OTEL_EXPORTER_OTLP_ENDPOINT is honoured too.
    otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "otlp_endpoint", "LEADFLOW_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"
        ),
    )

    # CRM credentials (crm.yaml says which CRM each source's leads go to). Never in YAML.
    hubspot_token: SecretStr | None = None  # a private app's access token
    hubspot_base_url: str | None = None  # default https://api.hubapi.com; tests point it at a fake

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
    # Notification channels (routing.yaml `channels`): name -> Standard Webhooks secret "whsec_...",
    # and name -> URL (a Slack incoming-webhook URL is itself a secret; it overrides the YAML's url).
    notify_secrets: dict[str, SecretStr] = Field(default_factory=dict)
    notify_urls: dict[str, SecretStr] = Field(default_factory=dict)
    llm_api_key: SecretStr | None = None  # the briefing's OpenAI-compatible endpoint, if it needs one
    # The SMTP server auto_send drafts go through: smtp://user:pass@host:587 (STARTTLS when the
    # server offers it) or smtps://user:pass@host:465 (TLS from the start). Unset: nothing is sent.
    smtp_url: SecretStr | None = None

    # Salesforce write-back and reading: an access token for an instance, or a user's
    # username + password + security token (the session is then renewed when it expires).
    salesforce_instance_url: str | None = None  # https://yourorg.my.salesforce.com
    salesforce_token: SecretStr | None = None
    salesforce_username: str | None = None
    salesforce_password: SecretStr | None = None
    salesforce_security_token: SecretStr | None = None
    salesforce_domain: str = "login"  # login, test (sandbox) or your My Domain prefix

    @field_validator("standard_secrets", "notify_secrets")
    @classmethod
    def _whsec(cls, secrets: dict[str, SecretStr]) -> dict[str, SecretStr]:
        # At start, naming the source: found per delivery, it would answer every one with a 500.
        for name, secret in secrets.items():
            try:
                if not secret_keys(secret.get_secret_value()):
                    raise ValueError("no secret")
            except ValueError:
                raise ValueError(f"'{name}': a secret is 'whsec_' and base64 (space-separated)") from None
        return secrets

    @field_validator("database_url")
    @classmethod
    def _async_url(cls, url: SecretStr | None) -> SecretStr | None:
        # At start, in one line: a URL SQLAlchemy cannot parse, or without an async driver, was a
        # traceback from the first command that opened the store. Never quotes the URL.
        if url is None:
            return None
        try:
            is_async = make_url(url.get_secret_value()).get_dialect().is_async
        except (ArgumentError, ImportError):
            is_async = False
        if not is_async:
            raise ValueError(
                "not an SQLAlchemy URL with an async driver, e.g. postgresql+asyncpg://user:pw@host:5432/db"
            )
        return url

    @property
    def missing_store(self) -> str | None:
        """Why there is no store here to read (None: there is one, or a database URL names it):
        an embedded data dir that does not exist, where opening the store would make an empty one."""
        if self.database_url is None and not self.data_dir.is_dir():
            return f"no store in {self.data_dir}: the directory does not exist (--data-dir)"
        return None

    @property
    def models_dir(self) -> Path:
        """The model registry: artifact directories and the champion/challenger pointer."""
        return self.data_dir / "models"

    @property
    def salesforce_configured(self) -> bool:
        token = self.salesforce_instance_url is not None and self.salesforce_token is not None
        return token or (self.salesforce_username is not None and self.salesforce_password is not None)

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Settings from the environment (and LEADFLOW_SECRETS_DIR), with ``overrides`` on top;
        InvalidSettings naming each variable that is wrong (never its value)."""
        secrets_dir = os.environ.get(SECRETS_DIR_VARIABLE)
        try:
            if secrets_dir:
                return cls(_secrets_dir=secrets_dir, **overrides)
            return cls(**overrides)
        except ValidationError as exc:
            wrong = [
                f"LEADFLOW_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
                for e in exc.errors(include_input=False, include_url=False)
            ]
            raise InvalidSettings("; ".join(wrong)) from None
        except SettingsError as exc:  # a value that is not JSON where JSON is expected
            raise InvalidSettings(str(exc)) from None

    @property
    def store_url(self) -> str:
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite+aiosqlite:///{self.data_dir / 'leadflow.db'}"
