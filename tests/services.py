"""Real services for the tests: a `redis-server` and a `secantusdb` MongoDB-wire server.

When `WARREN_TEST_REDIS_URL` / `WARREN_TEST_MONGO_URI` are set (CI service containers),
those are used. Otherwise the binaries are started on free loopback ports for the
session and stopped at its end. A missing binary fails the tests: it never skips them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{name} did not listen on {port} within {timeout} s")


@contextmanager
def _process(cmd: list[str], port: int, name: str, timeout: float) -> Iterator[None]:
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_for_port(port, process, name, timeout)
        except RuntimeError as exc:
            process.kill()
            log.seek(0)
            output = log.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"{exc}\n{output}") from None
        try:
            yield
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


@contextmanager
def redis_server() -> Iterator[str]:
    url = os.environ.get("WARREN_TEST_REDIS_URL")
    if url:
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError(
            "redis-server is not installed: run `make test` (installs it) or "
            "`apt-get install redis-server`, or set WARREN_TEST_REDIS_URL"
        )
    port = free_port()
    cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    with _process(cmd, port, "redis-server", 15):
        yield f"redis://127.0.0.1:{port}/0"


@contextmanager
def mongo_server(workdir: Path) -> Iterator[str]:
    uri = os.environ.get("WARREN_TEST_MONGO_URI")
    if uri:
        yield uri
        return
    binary = Path(sys.executable).parent / "secantusd-py"
    if not binary.exists():
        raise RuntimeError(
            "secantusd-py is missing: install the dev dependencies (`uv sync`), "
            "or set WARREN_TEST_MONGO_URI"
        )
    port = free_port()
    cmd = [
        str(binary),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--storage-path", str(workdir),
        "--log-level", "WARNING",
    ]  # fmt: skip
    with _process(cmd, port, "secantusd", 60):
        yield f"mongodb://127.0.0.1:{port}/"
