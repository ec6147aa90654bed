"""One worker process of a benchmarked server: binds its port with SO_REUSEPORT so several
workers share it (the kernel spreads connections over them, as a multi-worker uvicorn would).

    python -m tests.bench.reuseport intake PORT     # the Leadflow intake, settings from LEADFLOW_*
    python -m tests.bench.reuseport bare PORT       # the bare Starlette baseline: read body, 202
"""

from __future__ import annotations

import socket
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def accept(request: Request) -> JSONResponse:
    await request.body()
    return JSONResponse({"status": "accepted"}, status_code=202)


def bare_app() -> Starlette:
    return Starlette(routes=[Route("/webhooks/standard/{source}", accept, methods=["POST"])])


def intake_app() -> Starlette:
    from services.logs import configure
    from services.settings import Settings
    from services.web import create_app

    settings = Settings.load()
    configure(settings.log_level)
    return create_app(settings, ("intake",))


def main() -> None:
    kind, port = sys.argv[1], int(sys.argv[2])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    app = intake_app() if kind == "intake" else bare_app()
    config = uvicorn.Config(app, log_config=None, access_log=False, backlog=2048)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
