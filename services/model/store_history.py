"""The store's labelled leads as a History: the leads exactly as they were received, with the
outcome sales reported on leads.feedback."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from datetime import UTC

import numpy as np

from connectors.store.engine import make_engine
from connectors.store.sql import SqlStore
from schemas.lead import Lead
from services.model.features import FeatureSpec, value_of
from services.model.history import History
from services.model.mapping import Mapping


async def history_from_store(url: str, mapping: Mapping, spec: FeatureSpec | None) -> History:
    """The labelled leads, read as ``spec`` reads them (the model in use's features) or, without
    a model to take them from, as the mapping reads an export (``features_of``); dated by their
    arrival when the mapping names a date, so the split is by time as for a dated export."""
    store = SqlStore(make_engine(url))
    try:
        await store.start()
        labelled = await store.labelled_decisions()
    finally:
        await store.close()
    digest = hashlib.sha256()
    for routed, label in labelled:  # what it was trained on: which decisions, which outcomes
        digest.update(f"{routed.event_id}:{label}\n".encode())
    dates = None
    if mapping.date:  # a dated mapping is split by time: here by when each lead arrived
        labelled.sort(key=lambda one: one[0].received_at)
        arrived = [routed.received_at.astimezone(UTC).replace(tzinfo=None) for routed, _ in labelled]
        dates = np.array(arrived, dtype="datetime64[ns]")
    leads = [routed.lead for routed, _ in labelled]
    if spec is not None:
        columns = {f.name: f.path for f in spec.features}
        kinds: dict[str, str] = {f.name: f.kind for f in spec.features}
    else:
        columns, kinds = features_of(leads, mapping)
    return History(
        leads=leads,
        labels=np.array([label for _, label in labelled], dtype=np.int8),
        dates=dates,
        features=columns,
        kinds=kinds,
        sha256=digest.hexdigest(),
    )


def features_of(leads: Sequence[Lead], mapping: Mapping) -> tuple[dict[str, str], dict[str, str]]:
    """The features a history export would give: the mapping's fields and every attribute the
    leads carry (an export's other columns), less what the mapping leaves out; each kind as
    ``kinds`` says, else numeric when every value given is a number. An attribute holding
    objects or lists (a source's nested payload) is no column of an export: left out."""
    skip = {mapping.label.column, mapping.id, mapping.date, *mapping.exclude, *mapping.fields} - {None}
    attributes = sorted({name for lead in leads for name in lead.attributes} - skip)
    columns = dict(mapping.fields) | {name: f"attributes.{name}" for name in attributes}
    kinds: dict[str, str] = {}
    for name, path in list(columns.items()):
        values = [v for v in (value_of(lead, path) for lead in leads) if v is not None]
        if any(isinstance(v, dict | list) for v in values):
            del columns[name]
            continue
        kinds[name] = mapping.kinds.get(name) or (
            "numeric" if values and all(map(_number, values)) else "categorical"
        )
    return columns, kinds


def _number(value: object) -> bool:
    """A number, or text that is one ("12" from a form), as an export's column would be read."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return math.isfinite(value)
    try:
        return isinstance(value, str) and math.isfinite(float(value))
    except ValueError:
        return False
