"""`leadflow demo` against an address where nothing listens."""

from __future__ import annotations

import socket

from typer.testing import CliRunner

from services.cli import app


def test_demo_without_a_running_service_says_so_in_one_line() -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    result = CliRunner().invoke(app, ["demo", "--url", url, "--count", "1"])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"cannot reach Leadflow at {url}: ")


def test_demo_with_an_address_that_is_no_url_says_so_in_one_line() -> None:
    result = CliRunner().invoke(app, ["demo", "--url", "127.0.0.1:8000", "--count", "1"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[0].startswith("cannot reach Leadflow at 127.0.0.1:8000: ")


def test_demo_never_echoes_a_password_in_the_address() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = CliRunner().invoke(app, ["demo", "--url", f"http://ops:s3cret@127.0.0.1:{port}", "--count", "1"])
    assert result.exit_code == 1
    assert "s3cret" not in result.output
    assert result.output.startswith(f"cannot reach Leadflow at http://ops:***@127.0.0.1:{port}: ")
