"""The store's labelled leads as a History: the leads exactly as they were received, with the
outcome sales reported on leads.feedback."""

from __future__ import annotations

import hashlib

import numpy as np

from connectors.store.engine import make_engine
from connectors.store.sql import SqlStore
from services.model.history import History


async def history_from_store(url: str, columns: dict[str, str], kinds: dict[str, str]) -> History:
    store = SqlStore(make_engine(url))
    try:
        await store.start()
        labelled = await store.labelled_decisions()
    finally:
        await store.close()
    digest = hashlib.sha256()
    for routed, label in labelled:  # what it was trained on: which decisions, which outcomes
        digest.update(f"{routed.event_id}:{label}\n".encode())
    return History(
        leads=[routed.lead for routed, _ in labelled],
        labels=np.array([label for _, label in labelled], dtype=np.int8),
        dates=None,
        features=columns,
        kinds=kinds,
        sha256=digest.hexdigest(),
    )
