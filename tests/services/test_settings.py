"""Settings come from the environment and, for secrets, from files in LEADFLOW_SECRETS_DIR."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.settings import InvalidSettings, Settings


def test_secrets_are_read_from_files_named_like_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "LEADFLOW_HUBSPOT_CLIENT_SECRET").write_text("from-a-file")
    (tmp_path / "LEADFLOW_STANDARD_SECRETS").write_text('{"partner": "whsec_YQ== whsec_Yg=="}')
    monkeypatch.setenv("LEADFLOW_SECRETS_DIR", str(tmp_path))
    settings = Settings.load()
    assert settings.hubspot_client_secret is not None
    assert settings.hubspot_client_secret.get_secret_value() == "from-a-file"
    assert settings.standard_secrets["partner"].get_secret_value() == "whsec_YQ== whsec_Yg=="
    assert "from-a-file" not in repr(settings)


def test_the_environment_wins_over_a_secrets_file_and_options_win_over_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "LEADFLOW_TYPEFORM_SECRET").write_text("file")
    monkeypatch.setenv("LEADFLOW_SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("LEADFLOW_TYPEFORM_SECRET", "env")
    monkeypatch.setenv("LEADFLOW_PORT", "9001")
    settings = Settings.load(port=9002)
    assert settings.typeform_secret is not None and settings.typeform_secret.get_secret_value() == "env"
    assert settings.port == 9002


def test_a_process_takes_its_share_of_the_crm_accounts_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connectors.crm.hubspot import HubSpotCrm
    from services.bootstrap import make_crm
    from services.config import load_config
    from tests.conftest import CONFIG_DIR

    monkeypatch.setenv("LEADFLOW_HUBSPOT_TOKEN", "token")
    monkeypatch.setenv("LEADFLOW_CRM_BUDGET_SHARE", "0.25")
    settings = Settings.load()
    crm = make_crm("hubspot", settings, load_config(CONFIG_DIR), store=None)  # type: ignore[arg-type]
    assert isinstance(crm, HubSpotCrm)
    assert crm.guard.limits.requests == 47  # a quarter of 190 a 10 s, rounded down
    with pytest.raises(ValueError, match="less than or equal to 1"):
        Settings.load(crm_budget_share=1.5)


def test_the_kafka_fetch_wait_is_read_from_the_environment_into_the_bus(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from connectors.bus.kafka import KafkaBus
    from services.bootstrap import make_bus

    monkeypatch.setenv("LEADFLOW_BUS", "kafka")
    monkeypatch.setenv("LEADFLOW_KAFKA_FETCH_MAX_WAIT_MS", "20")
    bus = make_bus(Settings())
    assert isinstance(bus, KafkaBus)
    assert bus._settings.fetch_max_wait_ms == 20  # what its consumers are built with
    monkeypatch.delenv("LEADFLOW_KAFKA_FETCH_MAX_WAIT_MS")
    assert Settings().kafka_fetch_max_wait_ms == 50


def test_a_webhook_secret_that_is_not_base64_stops_the_process_at_start_without_its_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Found per delivery instead, it answered every delivery to that source with a 500.
    monkeypatch.setenv("LEADFLOW_STANDARD_SECRETS", '{"partner": "whsec_s3cret!value"}')
    with pytest.raises(InvalidSettings, match=r"LEADFLOW_STANDARD_SECRETS: .*'partner'") as caught:
        Settings.load()
    assert "s3cret" not in str(caught.value)
    monkeypatch.setenv("LEADFLOW_NOTIFY_SECRETS", '{"slack": "whsec_s3cret"')  # not even JSON
    monkeypatch.delenv("LEADFLOW_STANDARD_SECRETS")
    with pytest.raises(InvalidSettings) as caught:
        Settings.load()
    assert "s3cret" not in str(caught.value)


def test_the_cli_answers_invalid_settings_with_one_line_and_exit_2(tmp_path: Path) -> None:
    env = {**os.environ, "LEADFLOW_STANDARD_SECRETS": '{"partner": "whsec_s3cret!value"}'}
    done = subprocess.run(
        [sys.executable, "-m", "services", "migrate", "--check"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "leadflow: invalid settings: LEADFLOW_STANDARD_SECRETS: Value error, 'partner':"
        " a secret is 'whsec_' and base64 (space-separated)"
    ]
    assert "s3cret" not in done.stdout + done.stderr


def test_uvicorn_believes_the_proxies_the_settings_name(monkeypatch: pytest.MonkeyPatch) -> None:
    # Behind a TLS-terminating ingress, an untrusted X-Forwarded-Proto left every request "http":
    # the dashboard's session cookie was never Secure.
    from services.cli import server_config

    assert server_config(Settings(), None).forwarded_allow_ips == "127.0.0.1"  # uvicorn's own
    monkeypatch.setenv("LEADFLOW_FORWARDED_ALLOW_IPS", "*")
    assert server_config(Settings.load(), None).forwarded_allow_ips == "*"


@pytest.mark.parametrize(
    "url", ["nonsense", "postgresql://leadflow:s3cret@db:5432/leads", "nodb+nodriver://leadflow:s3cret@db/x"]
)
def test_a_database_url_without_an_async_driver_is_invalid_settings(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # It was a traceback from the first command that opened the store (ArgumentError, a missing
    # psycopg module, a dialect plugin that does not exist).
    monkeypatch.setenv("LEADFLOW_DATABASE_URL", url)
    with pytest.raises(InvalidSettings, match=r"^LEADFLOW_DATABASE_URL: .*async driver") as caught:
        Settings.load()
    assert "s3cret" not in str(caught.value)
    monkeypatch.setenv("LEADFLOW_DATABASE_URL", "postgresql+asyncpg://leadflow:s3cret@db:5432/leads")
    assert Settings.load().store_url.startswith("postgresql+asyncpg://")
