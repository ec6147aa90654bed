"""Process settings: the one place the environment is read (LEADFLOW_* variables)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    database_url: str | None = None  # default: SQLite under data_dir
    api_token: SecretStr | None = None
    log_level: str = "info"
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    consumer_max_attempts: int = Field(default=5, ge=1)

    @property
    def store_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'leadflow.db'}"
