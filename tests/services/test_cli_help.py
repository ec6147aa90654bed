"""`leadflow ... --help` shows each option's whole help text."""

from __future__ import annotations

from typer.testing import CliRunner

from services.cli import app


def test_help_keeps_the_bracketed_env_and_default_notes() -> None:
    # Rich markup read "[env LEADFLOW_PORT; default 8000]" as a tag and dropped it.
    result = CliRunner().invoke(app, ["run", "--help"])
    assert result.exit_code == 0
    assert "[env LEADFLOW_PORT; default 8000]" in " ".join(result.output.split())
