"""The dashboard: server-rendered pages for RevOps and on-call, served by the intake role."""

from services.dashboard.routes import ROUTES

__all__ = ["ROUTES"]
