"""End to end on Kafka (Tansu) with the HubSpot fake: the qualifier and the writer as `leadflow`
subprocesses, a small rolling budget (20 requests per second) so each test takes seconds."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from tests.integration.hubspot_run import (
    LIMIT,
    check_every_contact,
    fake_hubspot,
    pipeline,
    publish_leads,
    wait_all_written,
    written,
)

pytestmark = pytest.mark.integration


@pytest.mark.timeout(400)
async def test_a_thousand_leads_once_each_even_when_the_writer_is_killed(tmp_path: Path) -> None:
    fake = fake_hubspot()
    async with pipeline(tmp_path, fake) as p:
        leads = await publish_leads(p.bootstrap, 1000)
        p.start("qualifier")
        writer = p.start("writer")
        while written(fake, leads) < 200:
            await asyncio.sleep(0.05)
        writer.send_signal(signal.SIGKILL)  # mid-run, with batches in flight
        await asyncio.to_thread(writer.wait)
        assert written(fake, leads) < len(leads), "the kill should land with leads still to write"
        p.start("writer")
        await wait_all_written(fake, leads, timeout=240)
    check_every_contact(fake, leads)
    assert fake.max_in_window <= LIMIT
    assert not fake.refused


@pytest.mark.timeout(300)
async def test_a_429_stretch_loses_no_lead_and_keeps_within_the_budget(tmp_path: Path) -> None:
    fake = fake_hubspot()
    async with pipeline(tmp_path, fake) as p:
        leads = await publish_leads(p.bootstrap, 300)
        p.start("qualifier")
        p.start("writer")
        while written(fake, leads) < 50:
            await asyncio.sleep(0.05)
        fake.throttle(3.0, at_least=3)  # every request answered 429 for 3 s, and three at least
        await wait_all_written(fake, leads, timeout=180)
        assert "dead_lettered" not in p.log("writer")
    check_every_contact(fake, leads)
    assert fake.throttled > 0
    assert fake.max_in_window <= LIMIT


@pytest.mark.timeout(300)
async def test_while_hubspot_is_down_the_breaker_opens_then_the_backlog_drains(tmp_path: Path) -> None:
    fake = fake_hubspot()
    async with pipeline(tmp_path, fake) as p:
        leads = await publish_leads(p.bootstrap, 300)
        p.start("qualifier")
        p.start("writer")
        while written(fake, leads) < 50:
            await asyncio.sleep(0.05)
        fake.down(4.0, at_least=5)  # 503 to everything, 5 requests at least: the breaker opens at 3
        await wait_all_written(fake, leads, timeout=180)
        log = p.log("writer")
        assert "circuit open" in log, "the breaker should have opened while HubSpot was down"
        assert "dead_lettered" not in log
    check_every_contact(fake, leads)
