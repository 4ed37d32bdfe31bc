"""Warren as a real server process (`python -m warren serve`), for the replica, crash and
benchmark scenarios that need a process of its own: several sharing one Redis and one
records store, one killed with SIGKILL, or one whose CPU time is read from `/proc`."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

from tests.services import free_port

JWT_SECRET = "replica-test-secret-" + "y" * 40
START_TIMEOUT = 120.0  # importing LangChain on a busy 2-core machine is slow


def redis_db(url: str, db: int) -> str:
    """`url` pointed at database `db`, so a test's keys and flushes stay its own."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{db}"))


def server_env(
    data_dir: Path,
    model_base_url: str,
    *,
    redis_url: str | None = None,
    mongo_uri: str | None = None,
    mongo_db_name: str = "warren",
    **extra: str,
) -> dict[str, str]:
    """A hermetic environment for `warren serve`: nothing inherited but what a process
    needs to start, every storage and model setting explicit."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "WARREN_DATA_DIR": str(data_dir),
        "MODEL_PROVIDER": "openai",
        "MODEL_NAME": "gpt-test",
        "MODEL_BASE_URL": model_base_url,
        "MODEL_API_KEY": "sk-test",
        "MODEL_MAX_RETRIES": "0",
        "WARREN_LOG_FORMAT": "console",
        "WARREN_LOG_LEVEL": "INFO",
        "MONGO_DB_NAME": mongo_db_name,
    }
    if redis_url is not None:
        env["REDIS_URL"] = redis_url
    if mongo_uri is not None:
        env["MONGO_URI"] = mongo_uri
    if redis_url is not None or mongo_uri is not None:
        env["JWT_SECRET_KEY"] = JWT_SECRET  # shared: a token from one replica works on all
    env.update({key.upper(): value for key, value in extra.items()})
    return env


class WarrenProcess:
    """One `python -m warren serve` on its own loopback port; its output goes to a file."""

    def __init__(self, env: Mapping[str, str], log_path: Path, port: int | None = None) -> None:
        self.env = dict(env)
        self.log_path = log_path
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""

    async def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start the process and wait until `/healthz` answers (the lifespan has run)."""
        cwd = Path(self.env["WARREN_DATA_DIR"]).parent  # no stray `.env` is read there
        cwd.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "warren", "serve", "--host", "127.0.0.1",
                 "--port", str(self.port), "--graceful-timeout", "2"],
                env=self.env,
                cwd=cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=self.url, timeout=2) as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"warren exited with {self.process.returncode}:\n{self.log_tail()}"
                    )
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        self.kill()
        raise RuntimeError(f"warren did not answer within {timeout} s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when a machine or container dies."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM and wait (a graceful stop), then SIGKILL if it does not end."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used (`/proc/<pid>/stat`)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0


@asynccontextmanager
async def warren_process(env: Mapping[str, str], log_path: Path) -> AsyncIterator[WarrenProcess]:
    server = WarrenProcess(env, log_path)
    try:
        await server.start()
        yield server
    finally:
        server.stop()
