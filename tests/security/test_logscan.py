"""The log scanner catches each kind of leak (so the end-to-end scans can fail) and passes the
lines Leadflow really writes."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from services.demo import sample_leads
from services.logs import get_logger
from tests.logscan import capture_logs, known_values, leaks

LEADS = sample_leads(6)
WITH_PHONE = next(lead for lead in LEADS if "phone" in lead)
SECRETS = {"api_token": "tok-3f9a1c2e", "typeform_secret": "tf-secret-77aa", "crm_password": "hunter2-pw"}
KNOWN = known_values(LEADS, SECRETS)


def _found(line: str) -> set[str]:
    return {leak.what.split(" ")[0] for leak in leaks([("stderr", line)], KNOWN)}


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ('{"event": "x", "error": "bad lead ana.garcia@example.com"}', "email"),
        ('{"event": "x", "to": "Ana <ANA+leads@Mail.Example.co.uk>"}', "email"),
        ('{"event": "x", "phone": "+34612345678"}', "phone"),  # E.164
        ('{"event": "x", "detail": "call +34 612 345 678 today"}', "phone"),  # as the demo leads write it
        ('{"event": "x", "detail": "(555) 123-4567"}', "phone"),  # US national
        ('{"event": "x", "detail": "0612 345 678"}', "phone"),  # national with a trunk 0
        ('{"event": "x", "detail": "\\u0061na@example.com"}', "email"),  # hidden behind a JSON escape
        ("plain text line from a subprocess: lead jo@corp.example failed", "email"),
    ],
)
def test_each_pattern_is_caught(line: str, kind: str) -> None:
    assert kind in _found(line)


@pytest.mark.parametrize("secret", sorted(SECRETS))
def test_each_known_secret_is_caught(secret: str) -> None:
    line = json.dumps({"event": "login", "header": f"Bearer {SECRETS[secret]}"})
    assert any(leak.what == f"known value secret {secret}" for leak in leaks([("stderr", line)], KNOWN))


def test_a_known_phone_is_caught_in_any_spelling() -> None:
    phone = WITH_PHONE["phone"]
    digits = "".join(c for c in phone if c.isdigit())
    for spelling in (phone, digits, "+" + digits, digits[2:]):
        found = leaks([("stderr", f'{{"event": "x", "v": "{spelling}"}}')], KNOWN)
        assert any(leak.what.startswith("known value phone") for leak in found), spelling


def test_a_known_email_is_caught_even_mangled_out_of_the_pattern() -> None:
    email = WITH_PHONE["email"]
    local, domain = email.split("@")
    # Not an email to the pattern any more, but still the lead's address to anyone reading it.
    assert not leaks([("stderr", f"{local} at {domain}")], {})
    assert leaks([("stderr", email.upper())], KNOWN)


@pytest.mark.parametrize(
    "line",
    [
        '{"event": "accepted", "lead_id": "72db20e8-5b1e-4a55-9c4e-1f2a3b4c5d6e", "source": "demo", '
        '"timestamp": "2026-11-22T07:29:01.123456Z", "level": "info"}',
        '{"event": "batch", "topic": "leads.received", "partition": 2, "offset": 123456789, '
        '"duration_ms": 12.345678, "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}',
        '{"event": "redacted", "error": "bad <email:3f2a9c1d> <phone:9a8b7c6d>"}',
        '{"event": "kafka", "logger": "aiokafka", "detail": "connected to 127.0.0.1:39251 node 1"}',
        "2026-11-22T07:29:01.123456Z  INFO tansu_server::broker: listening on 127.0.0.1:40123",
    ],
)
def test_ordinary_lines_pass(line: str) -> None:
    assert leaks([("stderr", line)], KNOWN) == []


def test_capture_keeps_our_lines_and_the_libraries_and_subprocess_files(tmp_path: Path) -> None:
    sub = tmp_path / "broker.log"
    sub.write_text("an older test's line with old@leak.example\n")
    with capture_logs() as capture:
        capture.add_file(sub)
        get_logger(component="test").warning("lead_failed", error=f"bad {WITH_PHONE['email']}")
        logging.getLogger("aiokafka").warning("raw library line for %s", SECRETS["crm_password"])
        with sub.open("a") as f:
            f.write(f"subprocess says {SECRETS['api_token']}\n")
    lines = capture.lines()
    text = "\n".join(line for _, line in lines)
    # Redacted by services.logs as deployed: the email never shows; the rest is caught.
    assert WITH_PHONE["email"] not in text and "<email:" in text
    assert "old@leak.example" not in text  # the file is read from where it was when added
    with pytest.raises(AssertionError, match="crm_password") as failed:
        capture.assert_clean(KNOWN)
    assert "api_token" in str(failed.value)


def test_an_empty_capture_fails_rather_than_passing_vacuously() -> None:
    with capture_logs() as capture:
        pass
    with pytest.raises(AssertionError, match="no log line from stderr"):
        capture.assert_clean(KNOWN)
