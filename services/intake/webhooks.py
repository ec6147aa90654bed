"""Every webhook route, one module per source under services/intake/sources/."""

from __future__ import annotations

from services.intake.sources import standard

ROUTES = [*standard.ROUTES]
