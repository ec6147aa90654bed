"""Every webhook route and its OpenAPI paths: one module per source in services/intake/sources/.

Each source module exports ``ROUTES`` (Starlette routes) and ``OPENAPI`` (its path items).
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import Any

from starlette.routing import BaseRoute

from services.intake import sources


def _modules() -> list[ModuleType]:
    names = sorted(m.name for m in pkgutil.iter_modules(sources.__path__) if not m.name.startswith("_"))
    return [importlib.import_module(f"{sources.__name__}.{name}") for name in names]


MODULES = _modules()
ROUTES: list[BaseRoute] = [route for module in MODULES for route in module.ROUTES]
OPENAPI_PATHS: dict[str, Any] = {path: item for module in MODULES for path, item in module.OPENAPI.items()}
