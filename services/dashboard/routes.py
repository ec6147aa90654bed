"""`/dashboard`: thin page handlers over the store, the bus and the review code, behind a login."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from connectors.store.sql import LeadFilter
from schemas.decision import Status
from services.dashboard import aggregate
from services.dashboard.auth import Session, Sessions, csrf_ok
from services.dashboard.dlq import read_letters, replay
from services.dashboard.queries import DashboardQueries
from services.dashboard.render import page
from services.dashboard.svg import bar_chart
from services.dashboard.timeline import timeline
from services.errors import NotALead, NotFound, TooLarge
from services.intake import guessing
from services.intake.body import read_body
from services.logs import get_logger
from services.model.live_drift import champion_drift
from services.review import ReviewBody, apply_review

log = get_logger(component="dashboard")

Handler = Callable[[Request, Session], Awaitable[Response]]
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
STREAM_SIZE = 50
FORM_LIMIT = 64 * 1024  # the largest form here (an override with a 2000-character note) is ~25 KiB


async def _form(request: Request) -> FormData:
    """The posted form, refused (TooLarge) once the body passes FORM_LIMIT: Starlette's own
    limits are per field, so a login form of any size from anyone would be held in memory."""
    if not hasattr(request, "_body"):
        # Request.form() parses what Request.stream() yields, and that is _body once read.
        request._body = await read_body(request, FORM_LIMIT)
    return await request.form()


def _sessions(request: Request) -> Sessions:
    state = request.app.state
    if not hasattr(state, "dashboard_sessions"):
        state.dashboard_sessions = Sessions(state.settings)
    sessions: Sessions = state.dashboard_sessions
    return sessions


async def _current(request: Request) -> Session | None:
    """The request's session: signed, unexpired, and not logged out (on any replica)."""
    session = _sessions(request).current(request)
    if session is not None and await request.app.state.container.store.session_ended(session.sid):
        return None
    return session


def _to(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def logged_in(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A page for logged-in users: anyone else goes to the login form; a POST must carry the
    session's CSRF token."""

    async def endpoint(request: Request) -> Response:
        session = await _current(request)
        if session is None:
            if request.method == "GET":
                return _to("/dashboard/login")
            return page("error.html", 401, message="Log in first.", session=None)
        if request.method == "POST":
            try:
                form = await _form(request)
            except TooLarge:
                return page("error.html", 413, message="That form is too large.", session=session)
            if not csrf_ok(session, form.get("csrf")):
                log.info("dashboard_csrf_refused", path=request.url.path)
                return page("error.html", 403, message="The form expired; reload the page.", session=session)
        return await handler(request, session)

    return endpoint


async def login_form(request: Request) -> Response:
    if await _current(request) is not None:
        return _to("/dashboard/stream")
    return page("login.html", session=None)


async def login(request: Request) -> Response:
    try:
        form = await _form(request)
    except TooLarge:
        return page("login.html", 413, session=None, error="That form is too large.")
    # The limit is checked only once the form is in, with no await from here to the count: checked
    # before reading, forms held back and then sent together all passed it and were all compared.
    wait = guessing.retry_after(request)
    if wait:
        log.info("dashboard_login_throttled", retry_after=wait)
        error = f"Too many failed logins from your address: try again in {wait} s."
        answer = page("login.html", 429, session=None, error=error)
        answer.headers["Retry-After"] = str(wait)
        return answer
    token = form.get("token")
    if not isinstance(token, str) or not _sessions(request).token_ok(token):
        guessing.failed(request)
        log.info("dashboard_login_refused")
        return page("login.html", 401, session=None, error="That token is not valid.")
    response = _to("/dashboard/stream")
    _sessions(request).start(request, response)
    log.info("dashboard_login")
    return response


async def _logout(request: Request, session: Session) -> Response:
    # Deleting the cookie is not enough: a copy of it (another tab's, a stolen one) would stay
    # valid until it expires. The store refuses it on every replica from now on.
    now = request.app.state.clock()
    sessions = _sessions(request)
    await request.app.state.container.store.end_session(
        session.sid, now + timedelta(seconds=sessions.max_age), now
    )
    response = _to("/dashboard/login")
    Sessions.end(response)
    log.info("dashboard_logout")
    return response


def excerpt(briefing: str, length: int = 160) -> str:
    """The briefing's opening, without markdown stars or any email address (personal data
    stays on the lead's own page)."""
    text = " ".join(briefing.replace("**", "").split())
    text = EMAIL.sub("[email]", text)
    return text if len(text) <= length else text[: length - 1] + "…"


async def _stream(request: Request, session: Session) -> Response:
    store = request.app.state.container.store
    rows = await store.list_leads(LeadFilter(limit=STREAM_SIZE))
    leads = [
        {
            **row,
            "to": aggregate.routed_to(row["owner"], row["queue"]),
            "excerpt": excerpt(row["briefing"]),
            # Reasons quote what the lead typed (its title): an address there is personal data too.
            "reasons": [EMAIL.sub("[email]", reason) for reason in row["reasons"][:3]],
        }
        for row in rows
    ]
    return page("stream.html", session=session, leads=leads, refresh=10, active="stream")


async def _lead(request: Request, session: Session) -> Response:
    container = request.app.state.container
    lead_id = request.path_params["lead_id"]
    row = await container.store.get_lead(lead_id)
    if row is None:
        return page("error.html", 404, message="No decision for this lead yet.", session=session)
    queries = DashboardQueries(container.store)
    history = await queries.history(lead_id)
    steps = timeline(
        history, row, await queries.slas_for(lead_id), await container.store.notifications_for(lead_id)
    )
    current = history[-1] if history else None
    person = current.lead.model_dump(mode="json", exclude_none=True) if current else {}
    return page(
        "lead.html",
        session=session,
        lead=row,
        steps=steps,
        person=json.dumps(person, indent=2, ensure_ascii=False),
        active="stream",
    )


async def _review(request: Request, session: Session) -> Response:
    container = request.app.state.container
    routing = container.config.routing
    rows = await container.store.review_queue(routing.review_queues, 200)
    waiting = [{**row, "excerpt": excerpt(row["briefing"])} for row in rows]
    members = sorted({m.id for t in routing.teams for m in t.members})
    return page(
        "review.html",
        session=session,
        waiting=waiting,
        statuses=[s.value for s in Status],
        tiers=list(aggregate.TIER_ORDER),
        members=members,
        done=request.query_params.get("done"),
        active="review",
    )


async def _post_review(request: Request, session: Session) -> Response:
    form = await request.form()
    fields = {k: form.get(k) or None for k in ("action", "status", "tier", "owner", "note")}
    try:
        body = ReviewBody.model_validate(fields)
    except ValidationError:
        return page("error.html", 422, message="That review is not valid.", session=session)
    lead_id = request.path_params["lead_id"]
    try:
        await apply_review(request.app.state.container, lead_id, body, request.app.state.clock())
    except NotFound:
        return page("error.html", 404, message="No decision for this lead yet.", session=session)
    except NotALead:
        return page("error.html", 422, message="That owner is not on any team.", session=session)
    return _to(f"/dashboard/review?done={body.action}")


async def _charts(request: Request, session: Session) -> Response:
    container = request.app.state.container
    queries = DashboardQueries(container.store)
    tiers = aggregate.tier_sorted(await queries.tier_counts())
    conversion = aggregate.conversion_by_tier(await queries.labelled_tiers())
    speed = aggregate.speed_to_lead(await queries.speed_pairs())
    adherence = aggregate.adherence_by_owner(await container.store.sla_adherence())
    routing = aggregate.routing_distribution(await queries.destinations())
    slowest = speed["p99"] or 0
    divisor, unit = (1, " s") if slowest < 120 else (60, " min") if slowest < 7200 else (3600, " h")
    speeds = [(f"p{p}", speed[f"p{p}"] / divisor) for p in (50, 90, 99) if speed[f"p{p}"] is not None]
    charts = {
        "tiers": bar_chart([(t, float(n)) for t, n in tiers], title="Leads per tier"),
        "conversion": bar_chart(
            [(c.tier, c.rate) for c in conversion], title="Conversion by tier", unit="%", maximum=100
        ),
        "speed": bar_chart(speeds, title="Speed to lead", unit=unit),
        "adherence": bar_chart(
            [(a.owner, a.rate) for a in adherence if a.rate is not None],
            title="SLA adherence per person",
            unit="%",
            maximum=100,
        ),
        "routing": bar_chart([(k, float(n)) for k, n in routing], title="Leads per owner or queue"),
    }
    return page(
        "charts.html",
        session=session,
        charts=charts,
        conversion=conversion,
        speed={k: aggregate.human_seconds(v) if k != "count" else v for k, v in speed.items()},
        adherence=adherence,
        active="charts",
    )


async def _drift(request: Request, session: Session) -> Response:
    container = request.app.state.container
    root = container.settings.models_dir
    champion, rows = await champion_drift(container.store, root, 14, datetime.now(UTC))
    chart = bar_chart([(r["day"], r["psi"]) for r in rows], title="PSI per day")
    return page("drift.html", session=session, champion=champion, rows=rows, chart=chart, active="drift")


async def _dlq(request: Request, session: Session) -> Response:
    letters = await read_letters(request.app.state.container.bus)
    return page(
        "dlq.html",
        session=session,
        letters=list(reversed(letters)),  # newest first
        replayed=request.query_params.get("replayed"),
        active="dlq",
    )


async def _replay(request: Request, session: Session) -> Response:
    bus = request.app.state.container.bus
    which = (await request.form()).get("ref")
    letters = await read_letters(bus)
    chosen = letters if which == "all" else [item for item in letters if item.ref == which]
    done = await replay(bus, chosen)
    log.info("dashboard_dlq_replayed", count=done, all=which == "all")
    return _to(f"/dashboard/dlq?replayed={done}")


async def _home(request: Request, session: Session) -> Response:
    return _to("/dashboard/stream")


ROUTES = [
    Route("/dashboard", logged_in(_home), methods=["GET"]),
    Route("/dashboard/login", login_form, methods=["GET"]),
    Route("/dashboard/login", login, methods=["POST"]),
    Route("/dashboard/logout", logged_in(_logout), methods=["POST"]),
    Route("/dashboard/stream", logged_in(_stream), methods=["GET"]),
    Route("/dashboard/leads/{lead_id}", logged_in(_lead), methods=["GET"]),
    Route("/dashboard/review", logged_in(_review), methods=["GET"]),
    Route("/dashboard/review/{lead_id}", logged_in(_post_review), methods=["POST"]),
    Route("/dashboard/charts", logged_in(_charts), methods=["GET"]),
    Route("/dashboard/drift", logged_in(_drift), methods=["GET"]),
    Route("/dashboard/dlq", logged_in(_dlq), methods=["GET"]),
    Route("/dashboard/dlq/replay", logged_in(_replay), methods=["POST"]),
]
