"""The HTTP app every process serves: health for all, the lead API for the intake.

Workers (qualifier, writer) run as tasks inside the app's lifespan, so one uvicorn server
gives each process its probes and a clean shutdown on SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from connectors.errors import BusUnavailable, ConnectorError
from schemas.enrichment import Enrichment
from schemas.events import TOPIC_DLQ, TOPIC_FEEDBACK, TOPIC_RECEIVED, TOPIC_ROUTED
from schemas.lead import Lead
from services import heap, metrics, tracing
from services.bootstrap import Container, bootstrap
from services.briefing import Briefer
from services.consumer import ConsumerLoop
from services.dashboard import ROUTES as DASHBOARD_ROUTES
from services.email_send import EmailSender, sender_for
from services.errors import InvalidWebhook
from services.forget import forget_endpoint
from services.intake.openapi import openapi
from services.intake.publish import Publisher
from services.intake.ratelimit import RateLimiter
from services.intake.requalify_route import requalify_endpoint
from services.intake.routes import ROUTES as INTAKE_ROUTES
from services.intake.webhooks import ROUTES as WEBHOOK_ROUTES
from services.logs import get_logger
from services.model.feedback import GROUP as FEEDBACK_GROUP
from services.model.feedback import FeedbackRecorder
from services.model.live_drift import record_drift
from services.notify import Notifier
from services.qualifier.service import GROUP as QUALIFIER_GROUP
from services.qualifier.service import ContactDirectory, Qualifier
from services.reload import ConfigReloader
from services.review import ROUTES as REVIEW_ROUTES
from services.settings import Settings
from services.sla import SlaTimer
from services.writer.service import GROUP as WRITER_GROUP
from services.writer.service import Writer

log = get_logger(component="web")

Builder = Callable[[], Awaitable[Container]]


class _CurrentEnricher:
    """The container's enricher at each call: a config reload may replace it."""

    def __init__(self, container: Container) -> None:
        self._container = container

    async def enrich(self, lead: Lead) -> Enrichment:
        enricher = self._container.enricher
        assert enricher is not None  # only handed to the qualifier when there is one
        return await enricher.enrich(lead)


def workers_for(container: Container, roles: Sequence[str]) -> list[ConsumerLoop]:
    loops = []
    attempts = container.settings.consumer_max_attempts
    if "qualifier" in roles:
        contacts = container.crm if isinstance(container.crm, ContactDirectory) else None
        qualifier = Qualifier(
            container.bus,
            container.store,
            container.current_config,
            enricher=_CurrentEnricher(container) if container.enricher is not None else None,
            contacts=contacts,
            model=container.champion,
            briefer=Briefer(
                container.config.routing.briefing,
                container.settings.config_dir,
                api_key=container.settings.llm_api_key,
            ),
            roster=container.roster,
            max_attempts=attempts,
        )
        loops.append(
            ConsumerLoop(
                container.bus,
                [TOPIC_RECEIVED],
                QUALIFIER_GROUP,
                qualifier.handle,
                max_attempts=attempts,
                batch_handler=qualifier.handle_batch,
            )
        )
        recorder = FeedbackRecorder(container.store, container.current_config)
        loops.append(
            ConsumerLoop(
                container.bus, [TOPIC_FEEDBACK], FEEDBACK_GROUP, recorder.handle, max_attempts=attempts
            )
        )
    if "writer" in roles:
        writer = Writer(container.store, container.crm, crms=container.crms,
                        crm_for=container.config.crm.crm_for, max_attempts=attempts)  # fmt: skip
        loops.append(
            ConsumerLoop(
                container.bus,
                [TOPIC_ROUTED],
                WRITER_GROUP,
                writer.handle,
                max_attempts=attempts,
                batch_handler=writer.handle_batch,
            )
        )
    return loops


def follow_ups(container: Container) -> list[SlaTimer | Notifier | EmailSender]:
    """The writer role's background tasks: the SLA timer, the notification outbox and, when an
    SMTP server is configured, the auto_send email sender."""
    settings, config = container.settings, container.current_config
    tasks: list[SlaTimer | Notifier | EmailSender] = [
        SlaTimer(
            container.bus,
            container.store,
            config,
            roster=container.roster.current if container.roster is not None else None,
        ),
        Notifier(
            container.store,
            lambda: config().routing,
            secrets=settings.notify_secrets,
            urls=settings.notify_urls,
        ),
    ]
    smtp = settings.smtp_url.get_secret_value() if settings.smtp_url else None
    sender = sender_for(smtp, lambda: config().routing, container.store)
    if sender is not None:
        tasks.append(sender)
    return tasks


async def prune_dedupe(container: Container, stop: asyncio.Event, every: float = 3600) -> None:
    """Forget sender event ids older than dedupe_days, hourly (replicas doing it too is harmless)."""
    while not stop.is_set():
        days = container.config.sources.defaults.dedupe_days
        try:
            removed = await container.store.prune_inbound(datetime.now(UTC) - timedelta(days=days))
            log.info("dedupe_pruned", removed=removed, older_than_days=days)
        except ConnectorError as exc:
            log.warning("dedupe_prune_failed", error=exc.__class__.__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


async def sample_dlq_depth(container: Container, stop: asyncio.Event, every: float = 30) -> None:
    """Keep leadflow_dlq_depth current (one process per deployment is enough: the writer's)."""
    depth = getattr(container.bus, "depth", None)
    while depth is not None and not stop.is_set():
        try:
            found = await depth(TOPIC_DLQ)
            if found is not None:
                metrics.dlq_depth(found)
        except ConnectorError as exc:
            log.warning("dlq_depth_unavailable", error=exc.__class__.__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


async def sample_drift(container: Container, stop: asyncio.Event, every: float = 60) -> None:
    """Keep leadflow_model_drift_psi current (the qualifier's process, the one that scores)."""
    root = container.settings.models_dir
    while not stop.is_set():
        try:
            await record_drift(container.store, root, datetime.now(UTC))
        except (ConnectorError, OSError, ValueError, KeyError) as exc:  # a store or registry hiccup
            log.warning("drift_unavailable", error=exc.__class__.__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


async def metrics_endpoint(_: Request) -> Response:
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)


def error(status: int, code: str, detail: str, **extra: Any) -> JSONResponse:
    headers = {"Retry-After": "5"} if status == 503 else None
    return JSONResponse({"error": code, "detail": detail, **extra}, status_code=status, headers=headers)


def _source_of(request: Request) -> str:
    return tracing.source_of_path(request.url.path)


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidWebhook)
    # Never the path itself: a secret may travel in it (SendGrid Inbound Parse).
    log.info("request_refused", source=_source_of(request), status=exc.status, error=exc.code)
    response = error(exc.status, exc.code, exc.detail, **exc.extra)
    response.headers.update(exc.headers)
    return response


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("dependency_unavailable", source=_source_of(request), error=exc.__class__.__name__)
    what = "bus" if isinstance(exc, BusUnavailable) else "a dependency"
    return error(503, "unavailable", f"{what} is unavailable; nothing was accepted, retry later")


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error(exc.status_code, code, str(exc.detail))


async def _internal(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled", source=_source_of(request))
    return error(500, "internal", "unexpected error; it has been logged")


async def healthz(_: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    container: Container = request.app.state.container
    checks: dict[str, str] = {}
    for name, part in (("bus", container.bus), ("store", container.store)):
        try:
            await asyncio.wait_for(part.ping(), 5)
            checks[name] = "ok"
        except (ConnectorError, TimeoutError) as exc:
            checks[name] = f"unavailable: {exc.__class__.__name__}"
    stopped = [t for t in getattr(request.app.state, "workers", []) if t.done()]
    if stopped:
        checks["workers"] = f"{len(stopped)} stopped"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status_code=200 if ready else 503,
    )


class MissingSetting(RuntimeError):
    """A setting a role cannot start without (the lead API's bearer token)."""


def create_app(settings: Settings, roles: Sequence[str], build: Builder | None = None) -> Starlette:
    """An app for ``roles`` (any of intake, qualifier, writer); ``build`` lets tests wire fakes."""
    if "intake" in roles and settings.api_token is None:
        raise MissingSetting("LEADFLOW_API_TOKEN is not set: the lead API needs a bearer token")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        provider = tracing.configure(settings.otlp_endpoint, service="leadflow-" + "-".join(roles))
        container = await (build() if build else bootstrap(settings))
        app.state.container = container
        app.state.publisher = Publisher(container.bus, container.store)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(loop.run(stop)) for loop in workers_for(container, roles)]
        if "intake" in roles:
            tasks.append(asyncio.create_task(prune_dedupe(container, stop)))
        if "qualifier" in roles:
            tasks.append(asyncio.create_task(sample_drift(container, stop)))
        if "writer" in roles:
            tasks += [asyncio.create_task(task.run(stop)) for task in follow_ups(container)]
            tasks.append(asyncio.create_task(sample_dlq_depth(container, stop)))
        app.state.workers = list(tasks)
        if settings.config_reload:
            reloader = ConfigReloader(settings.config_dir, container.current_config, container.replace_config)
            app.state.reloader = reloader
            tasks.append(asyncio.create_task(reloader.run(stop)))
        log.info("started", roles=list(roles), bus=settings.bus, config_version=container.config.version)
        try:
            # Start-up is done: what it made lives as long as the app, out of the collector's
            # sight (full collections had walked it all: 300-650 ms pauses in the intake).
            with heap.settled():
                yield
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            await app.state.publisher.close()
            await container.close()
            if provider is not None:
                provider.shutdown()  # flushes the spans still queued
            log.info("stopped", roles=list(roles))

    routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics_endpoint),
    ]
    if "intake" in roles:
        routes += [*INTAKE_ROUTES, *REVIEW_ROUTES, *WEBHOOK_ROUTES, Route("/openapi.json", openapi)]
        routes.append(Route("/v1/forget", forget_endpoint, methods=["POST"]))
        routes.append(Route("/v1/requalify", requalify_endpoint, methods=["POST"]))
        routes += DASHBOARD_ROUTES
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(tracing.Observed)],
        exception_handlers={
            InvalidWebhook: _invalid,
            ConnectorError: _unavailable,
            HTTPException: _http,
            Exception: _internal,
        },
    )
    app.state.api_token = settings.api_token.get_secret_value() if settings.api_token else ""
    app.state.max_body_bytes = settings.max_body_bytes
    app.state.settings = settings
    app.state.rate_limiter = RateLimiter()
    # Clocks are state so tests can move time: wall time for signatures, monotonic for rates.
    app.state.clock = lambda: datetime.now(UTC)
    app.state.monotonic = time.monotonic
    return app
