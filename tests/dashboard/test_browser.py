"""Done-when: Debian's chromium, headless, opens the dashboard of a running embedded service
after the demo leads, logs in, finds the stream, the charts and the review queue, and saves
screenshots under test-artifacts/. Never skipped: `make test` installs chromium (as root), and
a missing or broken browser fails this test loudly."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from services.demo import run_demo
from tests.conftest import CONFIG_DIR, ROOT
from tests.servers import start_service

pytestmark = pytest.mark.integration

TOKEN = "browser-token"
ARTIFACTS = ROOT / "test-artifacts"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
PNG = b"\x89PNG\r\n\x1a\n"


def chromium() -> str:
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if found is None:
        pytest.fail("chromium is missing: `make test` installs it as root (apt-get install chromium)")
    return found


@contextmanager
def embedded(data_dir: Path, log: Path) -> Iterator[str]:
    def command(port: int) -> list[str]:
        return [sys.executable, "-m", "services", "run", "--port", str(port), "--data-dir", str(data_dir),
                "--config", str(CONFIG_DIR)]  # fmt: skip

    proc, port = start_service(command, log, {**os.environ, "LEADFLOW_API_TOKEN": TOKEN})
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def screenshot(page: object, name: str) -> Path:
    path = ARTIFACTS / f"dashboard-{name}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    data = path.read_bytes()
    assert data.startswith(PNG) and len(data) > 2000, f"{path} is not a real screenshot"
    return path


def test_the_dashboard_in_a_real_browser(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    executable = chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    with embedded(tmp_path / "data", tmp_path / "leadflow.log") as url:
        results = run_demo(url, 12, TOKEN, wait=60)
        assert all(r.get("written_at") for r in results), results
        with sync_playwright() as p:
            browser = p.chromium.launch_persistent_context(
                str(tmp_path / "profile"),  # a fresh --user-data-dir
                executable_path=executable,
                headless=True,
                args=FLAGS,
                viewport={"width": 1280, "height": 900},
            )
            try:
                page = browser.new_page()
                page.goto(f"{url}/dashboard")
                assert page.url.endswith("/dashboard/login")
                page.fill("input[name=token]", TOKEN)
                page.click("button[type=submit]")
                page.wait_for_url("**/dashboard/stream")
                assert page.locator("#stream tr.lead").count() == 12
                screenshot(page, "stream")

                page.click("text=Charts")
                page.wait_for_url("**/dashboard/charts")
                assert page.locator("svg.chart").count() == 5
                assert page.locator("#tier-mix svg rect.bar").count() >= 2
                screenshot(page, "charts")

                page.click("text=Review queue")
                page.wait_for_url("**/dashboard/review")
                waiting = page.locator("#review tr.waiting").count()
                assert waiting >= 1  # the demo's incomplete leads wait for a person
                screenshot(page, "review")
                page.locator("#review tr.waiting button", has_text="Approve").first.click()
                page.wait_for_url("**/dashboard/review?done=approve")
                assert page.locator("#review tr.waiting").count() == waiting - 1

                page.click("text=Stream")
                page.locator("#stream tr.lead a").first.click()
                assert page.locator("#timeline tr.step-received").count() == 1
                screenshot(page, "lead")
            finally:
                browser.close()
