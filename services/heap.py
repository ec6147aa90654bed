"""What lives as long as the process, out of the cyclic garbage collector's sight.

A full (generation 2) collection walks every tracked object, and in a qualifier process almost
all of them were made at start-up and live until it ends: the modules of its libraries, the
config, the model, the firmographic table (~240,000 objects after imports). Measured on the
qualifier bench, the full collections that per-lead allocations set off took ~25% of the consume
loop's time (7 of them, ~175 ms each, over 5,000 leads); with start-up's objects frozen, ~2%.
Frozen objects are still freed by reference counting; only a reference cycle among them (an
object replaced by a config reload, say) waits for the process to stop.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def settled() -> Iterator[None]:
    """Within the block, the objects alive on entry are not walked by the collector again.
    No collection first: it would cost a full one at each start, for a little start-up garbage."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()  # back in the oldest generation, collectable as before
