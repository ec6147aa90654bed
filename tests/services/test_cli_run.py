"""`leadflow run` (and the other services) refuse to start before binding a port."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli import app
from tests.services.test_config import edited_copy


def test_a_crm_without_credentials_stops_the_start_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # It was a traceback logged from the app's start-up, and exit code 3.
    monkeypatch.delenv("LEADFLOW_HUBSPOT_TOKEN", raising=False)
    monkeypatch.setenv("LEADFLOW_API_TOKEN", "token")
    config, _ = edited_copy(tmp_path, "crm.yaml", "default: local", "default: hubspot")
    args = ["run", "--config", str(config), "--data-dir", str(tmp_path / "var"), "--port", "0"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (
        "crm.yaml writes leads to hubspot: HubSpot needs LEADFLOW_HUBSPOT_TOKEN, which is not set"
    )


def test_the_lead_api_without_its_token_stops_the_start_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Exit 1 before, where every other setting that stops a start is exit 2.
    monkeypatch.delenv("LEADFLOW_API_TOKEN", raising=False)
    args = ["intake", "--data-dir", str(tmp_path / "var"), "--port", "0"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == "LEADFLOW_API_TOKEN is not set: the lead API needs a bearer token"


async def test_bootstrap_refuses_a_crm_without_credentials_before_opening_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same line as `leadflow run` (one function says it), and no store or bus made first.
    from services.bootstrap import CrmNotConfigured, bootstrap
    from services.settings import Settings

    monkeypatch.delenv("LEADFLOW_SALESFORCE_INSTANCE_URL", raising=False)
    monkeypatch.delenv("LEADFLOW_SALESFORCE_TOKEN", raising=False)
    monkeypatch.delenv("LEADFLOW_SALESFORCE_USERNAME", raising=False)
    config, _ = edited_copy(tmp_path, "crm.yaml", "default: local", "default: salesforce")
    data_dir = tmp_path / "var"
    with pytest.raises(CrmNotConfigured, match=r"^crm.yaml writes leads to salesforce: Salesforce needs"):
        await bootstrap(Settings.load(config_dir=config, data_dir=data_dir))
    assert not data_dir.exists()
