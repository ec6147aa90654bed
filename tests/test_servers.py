"""The test harness's own start-up wait: a service counts as up when it says it serves its port."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import ServiceExited, wait_until_serving


def spawn(code: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-c", code], stdout=out, stderr=subprocess.STDOUT)


def test_a_process_that_dies_before_serving_is_reported_not_waited_on(tmp_path: Path) -> None:
    # As when free_port's port was taken by another test before the service bound it.
    log = tmp_path / "svc.log"
    proc = spawn("import sys; print('address already in use'); sys.exit(1)", log)
    with pytest.raises(ServiceExited):
        wait_until_serving(proc, 40123, log, 0, timeout=30)


def test_serving_means_its_banner_for_this_port_after_this_start(tmp_path: Path) -> None:
    log = tmp_path / "svc.log"
    log.write_text("Uvicorn running on http://127.0.0.1:40123 (Press CTRL+C to quit)\n")  # a previous run's
    since = log.stat().st_size
    proc = spawn("import time; time.sleep(30)", log)
    try:
        with pytest.raises(TimeoutError):
            wait_until_serving(proc, 40123, log, since, timeout=1)
        with log.open("a") as f:
            f.write("Uvicorn running on http://127.0.0.1:40123 (Press CTRL+C to quit)\n")
        wait_until_serving(proc, 40123, log, since, timeout=5)
    finally:
        proc.kill()
        proc.wait()
