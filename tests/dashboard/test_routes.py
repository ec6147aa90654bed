"""The dashboard's routes on a live intake: login, CSRF, escaping, review and the DLQ."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from schemas.events import TOPIC_DLQ, TOPIC_RECEIVED, TOPIC_ROUTED, DeadLetter, LeadRouted
from services.dashboard.auth import COOKIE
from services.qualifier.service import Qualifier
from tests.dashboard.conftest import CONFIG, NOW, TOKEN, XSS, Live, received

PAGES = ["/dashboard/stream", "/dashboard/review", "/dashboard/charts", "/dashboard/drift", "/dashboard/dlq"]


async def test_every_page_needs_a_login(live: Live) -> None:
    for path in [*PAGES, f"/dashboard/leads/{live.hostile.lead_id}", "/dashboard"]:
        answer = await live.client.get(path)
        assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/login", path
    posted = await live.client.post(
        f"/dashboard/review/{live.waiting[0].lead_id}", data={"action": "approve"}
    )
    assert posted.status_code == 401
    assert (await live.client.get("/dashboard/login")).status_code == 200


async def test_a_wrong_token_is_refused_and_sets_no_cookie(live: Live) -> None:
    answer = await live.client.post("/dashboard/login", data={"token": "not-the-token"})
    assert answer.status_code == 401
    assert COOKIE not in answer.cookies
    assert (await live.client.get("/dashboard/stream")).status_code == 303


async def test_failed_logins_from_one_address_are_limited(live: Live) -> None:
    await live.login()  # a success costs nothing
    for _ in range(10):
        assert (await live.client.post("/dashboard/login", data={"token": "guess-1234"})).status_code == 401
    limited = await live.client.post("/dashboard/login", data={"token": TOKEN})  # even the right one
    assert limited.status_code == 429 and 0 < int(limited.headers["retry-after"]) <= 6
    assert "Too many failed logins" in limited.text and "guess-1234" not in limited.text
    assert COOKIE not in limited.cookies
    api = await live.client.get("/v1/leads", headers={"Authorization": f"Bearer {TOKEN}"})
    assert api.status_code == 429 and api.json()["error"] == "rate_limited"  # one budget per address


async def test_slow_login_forms_sent_at_once_get_no_more_guesses_than_the_limit(live: Live) -> None:
    # Each login was checked against the limit before its form had arrived and counted after:
    # 30 forms held back and then sent together were all compared (30 guesses, not 10).
    gate = asyncio.Event()

    async def form() -> AsyncIterator[bytes]:
        await gate.wait()
        yield b"token=guess-1234"

    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    sent = [
        asyncio.create_task(live.client.post("/dashboard/login", content=form(), headers=headers))
        for _ in range(30)
    ]
    await asyncio.sleep(0.5)  # every request's headers are in and waiting for its form
    gate.set()
    codes = sorted(answer.status_code for answer in await asyncio.gather(*sent))
    assert codes == [401] * 10 + [429] * 20


async def test_a_forged_cookie_is_refused(live: Live) -> None:
    live.client.cookies.set(COOKIE, "eyJzaWQiOiJ4IiwiY3NyZiI6InkifQ.forged.sig", path="/dashboard")
    assert (await live.client.get("/dashboard/stream")).status_code == 303


async def test_login_sets_a_strict_http_only_cookie_and_logout_ends_it(live: Live) -> None:
    answer = await live.client.post("/dashboard/login", data={"token": "dash-token"})
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/dashboard" in cookie
    assert "secure" not in cookie  # plain http here; https requests get Secure
    page = await live.client.get("/dashboard/stream")
    assert page.status_code == 200 and "default-src 'none'" in page.headers["content-security-policy"]
    csrf = await live.login()
    assert (await live.client.post("/dashboard/logout", data={"csrf": csrf})).status_code == 303
    assert (await live.client.get("/dashboard/stream")).status_code == 303


async def test_a_copy_of_the_cookie_is_refused_after_logout(live: Live) -> None:
    csrf = await live.login()
    kept = live.client.cookies.get(COOKIE)
    assert kept is not None
    assert (await live.client.post("/dashboard/logout", data={"csrf": csrf})).status_code == 303
    live.client.cookies.set(COOKIE, kept, path="/dashboard")  # replayed: another tab, or stolen
    answer = await live.client.get("/dashboard/stream")
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/login"
    assert (await live.client.get("/dashboard/login")).status_code == 200  # the form, not a loop
    posted = await live.client.post("/dashboard/dlq/replay", data={"csrf": csrf, "ref": "all"})
    assert posted.status_code == 401
    live.client.cookies.clear()
    await live.login()  # a new session works
    assert (await live.client.get("/dashboard/stream")).status_code == 200


async def test_pages_render_the_leads(live: Live) -> None:
    await live.login()
    for path in PAGES:
        answer = await live.client.get(path)
        assert answer.status_code == 200, (path, answer.text[:500])
    stream = (await live.client.get("/dashboard/stream")).text
    assert stream.count('class="lead"') == 3
    assert '<meta http-equiv="refresh"' in stream
    assert "@" not in stream.split("<main>")[1]  # no email address outside the lead's own page
    review = (await live.client.get("/dashboard/review")).text
    assert review.count('class="waiting"') == 2
    charts = (await live.client.get("/dashboard/charts")).text
    assert charts.count("<svg") == 5
    drift = (await live.client.get("/dashboard/drift")).text
    assert "No model is in use" in drift
    lead = (await live.client.get(f"/dashboard/leads/{live.hostile.lead_id}")).text
    assert "mallory@freight.example" in lead
    for kind in ("received", "evaluation", "routing", "crm"):
        assert f"step-{kind}" in lead, kind
    assert "written to local" in lead
    assert (await live.client.get("/dashboard/leads/nobody")).status_code == 404


async def test_a_hostile_lead_name_is_escaped_everywhere(live: Live) -> None:
    await live.login()
    for path in ["/dashboard/stream", f"/dashboard/leads/{live.hostile.lead_id}"]:
        html = (await live.client.get(path)).text
        assert XSS not in html and "<img src=x" not in html, path
        assert "&lt;script&gt;" in html, path


async def test_a_post_without_the_csrf_token_is_refused(live: Live) -> None:
    csrf = await live.login()
    lead_id = live.waiting[0].lead_id
    for data in ({"action": "approve"}, {"action": "approve", "csrf": csrf[:-2] + "xx"}):
        answer = await live.client.post(f"/dashboard/review/{lead_id}", data=data)
        assert answer.status_code == 403
    assert (await live.client.post("/dashboard/dlq/replay", data={"ref": "all"})).status_code == 403
    assert live.bus.values(TOPIC_ROUTED) == []  # nothing was decided


async def test_review_approve_and_override_round_trip_to_the_crm(live: Live) -> None:
    csrf = await live.login()
    first, second = live.waiting
    approved = await live.client.post(
        f"/dashboard/review/{first.lead_id}", data={"csrf": csrf, "action": "approve"}
    )
    assert approved.status_code == 303 and approved.headers["location"] == "/dashboard/review?done=approve"
    override = {"csrf": csrf, "action": "override", "status": "qualified", "tier": "hot",
                "owner": "ana.garcia", "note": "spoke to them"}  # fmt: skip
    assert (await live.client.post(f"/dashboard/review/{second.lead_id}", data=override)).status_code == 303
    bad = await live.client.post(
        f"/dashboard/review/{second.lead_id}", data={"csrf": csrf, "action": "maybe"}
    )
    assert bad.status_code == 422
    stranger = {"csrf": csrf, "action": "override", "owner": "nobody.here"}
    unknown = await live.client.post(f"/dashboard/review/{second.lead_id}", data=stranger)
    assert unknown.status_code == 422 and "not on any team" in unknown.text
    assert "Nothing waiting for review" in (await live.client.get("/dashboard/review")).text

    for value in live.bus.values(TOPIC_ROUTED):  # the writer's work
        await live.crm.write(LeadRouted.model_validate_json(value))
    record = await live.crm.record(second.lead_id)
    assert record is not None
    assert (record["owner"], record["status"], record["tier"]) == ("ana.garcia", "qualified", "hot")
    kept = await live.crm.record(first.lead_id)
    assert kept is not None and kept["writes"] == 2 and kept["queue"] == "SDR review"
    [feedback] = await live.store.feedback_for(second.lead_id)
    assert feedback["action"] == "override" and feedback["note"] == "spoke to them"


def letter(n: int) -> bytes:
    return (
        DeadLetter(
            topic=TOPIC_RECEIVED,
            key=f"k{n}",
            value=f'{{"lead_id": "lead-{n}", "n": {n}}}',
            error="PoisonEvent: <b>bad</b>",
            consumer="leadflow-qualifier",
            failed_at=datetime(2026, 11, 18, 9, n, tzinfo=UTC),
        )
        .model_dump_json()
        .encode()
    )


async def test_dead_letters_are_listed_and_replayed_one_or_all(live: Live) -> None:
    csrf = await live.login()
    empty = (await live.client.get("/dashboard/dlq")).text
    assert "The dead-letter queue is empty" in empty
    for n in (1, 2):
        await live.bus.publish(TOPIC_DLQ, f"k{n}", letter(n))
    page = (await live.client.get("/dashboard/dlq")).text
    assert page.count('class="letter"') == 2 and "&lt;b&gt;bad" in page
    one = await live.client.post("/dashboard/dlq/replay", data={"csrf": csrf, "ref": "0:1"})
    assert one.status_code == 303 and one.headers["location"] == "/dashboard/dlq?replayed=1"
    assert live.bus.values(TOPIC_RECEIVED) == [b'{"lead_id": "lead-2", "n": 2}']
    everything = await live.client.post("/dashboard/dlq/replay", data={"csrf": csrf, "ref": "all"})
    assert everything.headers["location"] == "/dashboard/dlq?replayed=2"
    assert len(live.bus.values(TOPIC_RECEIVED)) == 3
    assert len(live.bus.values(TOPIC_DLQ)) == 2  # the DLQ is a log: letters stay


async def test_the_stream_shows_no_email_address_a_lead_typed_into_its_title(live: Live) -> None:
    # The persona reason quotes the title: an address typed there reached the stream's reasons.
    qualifier = Qualifier(live.bus, live.store, lambda: CONFIG, clock=lambda: NOW)
    title = "CEO trent@freight.example"
    await qualifier.decide_and_record(
        received(4, {"email": "trent@freight.example", "title": title, "company": {"name": "Freight"}})
    )
    await live.login()
    stream = (await live.client.get("/dashboard/stream")).text.split("<main>")[1]
    assert "CEO [email]" in stream
    assert "@" not in stream


async def test_a_form_over_the_limit_is_refused_before_it_is_buffered(live: Live) -> None:
    # Each field under Starlette's 1 MB part limit: a login form of any size was held in memory,
    # from anyone, before the token was looked at.
    big = "&".join(f"f{i}=" + "a" * 500_000 for i in range(4)).encode()
    form = {"content-type": "application/x-www-form-urlencoded"}

    async def streamed() -> AsyncIterator[bytes]:  # no Content-Length: chunked
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    assert (await live.client.post("/dashboard/login", content=big, headers=form)).status_code == 413
    assert (await live.client.post("/dashboard/login", content=streamed(), headers=form)).status_code == 413
    csrf = await live.login()
    answer = await live.client.post(
        f"/dashboard/review/{live.waiting[0].lead_id}",
        content=f"csrf={csrf}&action=approve&".encode() + big,
        headers=form,
    )
    assert answer.status_code == 413 and "text/html" in answer.headers["content-type"]
    assert live.bus.values(TOPIC_ROUTED) == []
    login = await live.client.post("/dashboard/login", data={"token": "dash-token"})
    assert login.status_code == 303  # a form of ordinary size still works
