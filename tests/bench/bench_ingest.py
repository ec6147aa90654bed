"""Signed webhooks per second into the intake on Kafka, against a bare Starlette endpoint.

    python -m tests.bench.bench_ingest [--duration 10] [--connections 64] [--workers 2]

Two server processes share one port through SO_REUSEPORT (tests/bench/reuseport.py; uvicorn,
one event loop each), first the bare endpoint (read the body, answer 202), then the Leadflow
intake: Standard Webhooks signature check, rate limit, parse, dedupe claim in PostgreSQL,
publish to a fresh Tansu broker with acks=all, 202. The load generator is wrk (Debian's
package, installed with apt-get when missing, as root): C, so it leaves the cores to the
servers. Every request is a distinct delivery (its own webhook-id, signed with the source's
secret within the replay window), pre-signed here and replayed by a small Lua script; a warm-up
run with other ids comes first. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import yaml

from services.intake.signatures import secret_keys
from services.intake.sources.standard import sign
from tests.conftest import CONFIG_DIR
from tests.servers import free_port, postgres_server, tansu_broker

SECRET = "whsec_" + base64.b64encode(b"leadflow-bench-ingest-secret-01").decode()
SOURCE = "bench"
SEPARATOR = b"\x1e"  # ASCII record separator: never inside a request we build

LUA = r"""
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
local reqs, i = {}, 0
function init(args)
  local f = assert(io.open(args[1] .. "-" .. tid .. ".req", "rb"))
  local data = f:read("*a")
  f:close()
  for r in string.gmatch(data, "([^\30]+)") do reqs[#reqs + 1] = r end
end
function request()
  i = i + 1
  if i > #reqs then i = 1 end
  return reqs[i]
end
function done(summary, latency, requests)
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, '
    .. '"errors_connect": %d, "errors_read": %d, "errors_write": %d, "errors_status": %d, '
    .. '"errors_timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout))
end
"""


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("wrk is missing: sudo apt-get install wrk")
    subprocess.run(["apt-get", "-y", "-q", "install", "wrk"], check=True, capture_output=True)
    return shutil.which("wrk") or "wrk"


def write_requests(prefix: Path, port: int, tag: str, count: int, threads: int) -> None:
    """``count`` distinct signed deliveries as raw HTTP/1.1 requests, split over wrk's threads."""
    [key] = secret_keys(SECRET)
    now = int(time.time())
    files = [prefix.with_name(f"{prefix.name}-{t}.req").open("wb") for t in range(threads)]
    for n in range(count):
        body = json.dumps(
            {"email": f"p{n}.{tag}@acme{n % 97}.example", "first_name": "Ana", "last_name": "Ruiz",
             "title": "Head of Operations", "company": {"name": f"Acme {n % 97}"}}
        ).encode()  # fmt: skip
        msg_id = f"msg_{tag}_{n}"
        head = (
            f"POST /webhooks/standard/{SOURCE} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"webhook-id: {msg_id}\r\nwebhook-timestamp: {now}\r\n"
            f"webhook-signature: {sign(key, msg_id, now, body)}\r\n\r\n"
        )
        files[n % threads].write(head.encode() + body + SEPARATOR)
    for f in files:
        f.close()


def listeners(port: int) -> int:
    """Sockets listening on ``port`` (each SO_REUSEPORT worker has its own)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if state == "0A" and int(local.split(":")[1], 16) == port:
            count += 1
    return count


def start_workers(kind: str, port: int, workers: int, env: dict[str, str], log: Path) -> list[Any]:
    procs = []
    with log.open("ab") as out:
        for _ in range(workers):  # one at a time: the first creates topics and migrates the store
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "tests.bench.reuseport", kind, str(port)],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
            deadline = time.monotonic() + 90
            while listeners(port) < len(procs):
                if time.monotonic() > deadline or procs[-1].poll() is not None:
                    raise RuntimeError(f"{kind} worker did not start; see {log}")
                time.sleep(0.1)
    return procs


def stop(procs: list[Any]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(timeout=30)


def wrk(
    wrk_bin: str, script: Path, prefix: Path, port: int, args: argparse.Namespace, seconds: int
) -> dict[str, Any]:
    result = subprocess.run(
        [wrk_bin, "-t", str(args.threads), "-c", str(args.connections), "-d", f"{seconds}s",
         "--timeout", "10s", "-s", str(script), f"http://127.0.0.1:{port}", "--", str(prefix)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    line = [x for x in result.stdout.splitlines() if x.startswith("{")][-1]
    raw: dict[str, Any] = json.loads(line)
    per_second = raw["requests"] / (raw["duration_us"] / 1e6)
    errors = sum(v for k, v in raw.items() if k.startswith("errors_"))
    return {
        "per_second": round(per_second, 1),
        "requests": raw["requests"],
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "max_ms": round(raw["max_us"] / 1000, 2),
        "errors": errors,
        "non_2xx": raw["errors_status"],
    }


def measure(
    kind: str, env: dict[str, str], tmp: Path, args: argparse.Namespace, wrk_bin: str
) -> dict[str, Any]:
    port = free_port()
    script = tmp / "signed.lua"
    script.write_text(LUA)
    warm, timed = tmp / f"{kind}-warm", tmp / f"{kind}-timed"
    write_requests(warm, port, f"{kind}w", args.pool // 4, args.threads)
    write_requests(timed, port, f"{kind}t", args.pool, args.threads)
    procs = start_workers(kind, port, args.workers, env, tmp / f"{kind}.log")
    try:
        wrk(wrk_bin, script, warm, port, args, args.warmup)
        result = wrk(wrk_bin, script, timed, port, args, args.duration)
    finally:
        stop(procs)
    # Past the pool, ids repeat and the intake answers them from its memory: not a fair figure.
    result["pool_exhausted"] = result["requests"] > args.pool
    return result


def config_dir(tmp: Path) -> Path:
    """The demo config plus a Standard Webhooks source without a practical rate limit."""
    target = tmp / "config"
    shutil.copytree(CONFIG_DIR, target)
    sources = yaml.safe_load((target / "sources.yaml").read_text())
    sources.setdefault("standard", {})[SOURCE] = {
        "limits": {"max_body_bytes": 262144, "rate_per_minute": 10**9, "burst": 10**6}
    }
    (target / "sources.yaml").write_text(yaml.safe_dump(sources, sort_keys=False))
    return target


def run(args: argparse.Namespace) -> dict[str, Any]:
    wrk_bin = ensure_wrk()
    with tempfile.TemporaryDirectory() as name, ExitStack() as stack:
        tmp = Path(name)
        base = {**os.environ, "PYTHONPATH": str(Path.cwd())}
        bare = measure("bare", base, tmp, args, wrk_bin)
        bootstrap = stack.enter_context(tansu_broker(tmp / "tansu.log"))
        server = stack.enter_context(postgres_server())
        env = {
            **base,
            "LEADFLOW_API_TOKEN": "bench-token",
            "LEADFLOW_BUS": "kafka",
            "LEADFLOW_KAFKA_BOOTSTRAP": bootstrap,
            "LEADFLOW_KAFKA_IDEMPOTENCE": "false",  # Tansu has no idempotent producer
            "LEADFLOW_KAFKA_REPLICATION": "1",
            "LEADFLOW_DATABASE_URL": server + "/postgres",  # a throwaway server of its own
            "LEADFLOW_CONFIG_DIR": str(config_dir(tmp)),
            "LEADFLOW_DATA_DIR": str(tmp / "data"),
            "LEADFLOW_CONFIG_RELOAD": "false",
            "LEADFLOW_STANDARD_SECRETS": json.dumps({SOURCE: SECRET}),
        }
        intake = measure("intake", env, tmp, args, wrk_bin)
    return {
        "benchmark": "ingest",
        "load_generator": f"wrk 4 (-t {args.threads} -c {args.connections}), pre-signed requests",
        "workers": args.workers,
        "connections": args.connections,
        "seconds": args.duration,
        "intake_kafka_acks_all": intake,
        "baseline_bare_starlette": bare,
        "ratio": round(intake["per_second"] / bare["per_second"], 3),
        "targets": {"per_second": 10000, "ratio": 0.35, "p99_ms": 25},
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds of each timed run")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of each warm-up run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--pool", type=int, default=0, help="distinct deliveries (12,000/s x duration)")
    args = parser.parse_args()
    args.pool = args.pool or 12_000 * args.duration
    print(json.dumps(run(args)))


if __name__ == "__main__":
    main()
