"""The qualifier's account lookup in the local CRM, as the CRM grows.

    python -m tests.bench.bench_accounts [--records 100000] [--lookups 500]

Every lead with a company name or a corporate domain is looked up in the local CRM's records
(connectors.enrichment.crm.LocalAccounts: the account's owner, whether it is a customer).
This fills a SQLite store (on tmpfs where there is one) with ``--records`` records of 40,000
companies whose names share words, as LocalCrm writes them (with their company key), then
times ``--lookups`` lookups by name and by domain, half of them hits. Baseline in the same run:
the same lookups against 1,000 records. A lookup that scans grows with the records; one that
probes an index does not. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.crm.local import LocalCrm, records
from connectors.enrichment.crm import LocalAccounts
from connectors.names import normalise_name
from connectors.store.engine import make_engine

TMPFS = "/dev/shm" if Path("/dev/shm").is_dir() else None
COMPANIES = 40_000
NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def company(i: int) -> str:
    return f"Atlas {i % COMPANIES} Freight Logistics" if i % 2 else f"atlas{i % COMPANIES}.example"


async def timed(tmp: Path, count: int, lookups: int) -> dict[str, Any]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp / f'crm-{count}.db'}")
    try:
        await LocalCrm(engine).start()
        async with engine.begin() as conn:
            for start in range(0, count, 5000):
                rows = [
                    {"lead_id": f"l{i}", "company": company(i), "company_key": normalise_name(company(i)),
                     "owner": "ana", "status": "qualified", "locked": False, "writes": 1, "updated_at": NOW}
                    for i in range(start, min(start + 5000, count))
                ]  # fmt: skip
                await conn.execute(records.insert(), rows)
        accounts = LocalAccounts(engine)
        out: dict[str, Any] = {"records": count}
        for kind, lookup in (
            ("by_name", lambda i: accounts.by_name(f"ATLAS {i} Freight Logistics, Inc.")),
            ("by_domain", lambda i: accounts.by_domain(f"atlas{i}.example")),
        ):
            # Odd ids are named records, even ids domain records: half of each kind hit.
            started, hits = time.perf_counter(), 0
            for i in range(lookups):
                hits += await lookup(i) is not None
            seconds = time.perf_counter() - started
            out[kind] = {"ms_per_lookup": round(1000 * seconds / lookups, 3), "hits": hits}
        return out
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=TMPFS) as tmp_name:
        tmp = Path(tmp_name)
        baseline = asyncio.run(timed(tmp, 1000, args.lookups))
        grown = asyncio.run(timed(tmp, args.records, args.lookups))
    print(
        json.dumps(
            {
                "benchmark": "accounts",
                "store": "sqlite",
                "baseline_1000_records": baseline,
                "grown": grown,
                "python": platform.python_version(),
            }
        )
    )


if __name__ == "__main__":
    main()
