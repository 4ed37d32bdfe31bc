"""deploy/nginx.conf in front of a real Warren process: the real nginx runs that very file,
with only its deployment-specific values replaced (upstream address, ports, certificate,
ACME root). Run events pass through one by one and uncompressed, a dropped stream resumes
through it with Last-Event-ID, `/metrics` stays inside, plain HTTP goes to HTTPS."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from tests.fakes.llm_server import Reply, ScriptedLLM
from tests.helpers import Api, Stream, parse_sse
from tests.runs.processes import WarrenProcess, server_env
from tests.runs.streams import assert_same_frames, text_of
from tests.services import free_port

pytestmark = pytest.mark.asyncio(loop_scope="module")  # one Warren and one nginx for all

SITE = Path(__file__).resolve().parents[2] / "deploy" / "nginx.conf"
MAIN = "You are Warren, a capable assistant"


def nginx_binary() -> str:
    """WARREN_TEST_NGINX, else `nginx` on the PATH, else Debian's (in /usr/sbin)."""
    return os.environ.get("WARREN_TEST_NGINX") or shutil.which("nginx") or "/usr/sbin/nginx"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that is its own CA, with `cryptography` or `openssl`."""
    cert_path, key_path = directory / "fullchain.pem", directory / "privkey.pem"
    if importlib.util.find_spec("cryptography") is None:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", key_path, "-out", cert_path, "-days", "1",
             "-subj", "/CN=warren-nginx-test", "-addext", "subjectAltName=IP:127.0.0.1"],
            check=True, capture_output=True,
        )  # fmt: skip
        return cert_path, key_path
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "warren-nginx-test")])
    now = datetime.datetime.now(datetime.UTC)
    loopback = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([loopback]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pkcs8 = serialization.PrivateFormat.PKCS8
    none = serialization.NoEncryption()
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, pkcs8, none))
    return cert_path, key_path


def replace_once(text: str, old: str, new: str) -> str:
    """Replace `old`, which must occur exactly once: a changed conf fails here, loudly."""
    assert text.count(old) == 1, f"deploy/nginx.conf no longer has exactly one {old!r}"
    return text.replace(old, new)


def nginx_config(prefix: Path, cert: Path, key: Path, upstream: int, http: int, https: int) -> Path:
    """deploy/nginx.conf with this machine's values, in a minimal main configuration whose
    every path is under `prefix` (no root needed)."""
    site = SITE.read_text()
    for old, new in [
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream};"),
        ("listen 80;", f"listen 127.0.0.1:{http};"),
        ("listen [::]:80;\n", ""),  # IPv4 loopback only: a CI runner may have no IPv6
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl http2;"),
        ("listen [::]:443 ssl http2;\n", ""),
        ("/etc/nginx/certs/fullchain.pem", str(cert)),
        ("/etc/nginx/certs/privkey.pem", str(key)),
        ("root /var/www/certbot;", f"root {prefix / 'acme'};"),
    ]:
        site = replace_once(site, old, new)
    temp = "".join(
        f"    {kind}_temp_path {prefix / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    user = "user root;\n" if os.geteuid() == 0 else ""  # else workers run as nobody
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"{user}pid {prefix / 'nginx.pid'};\nworker_processes 1;\n"
        f"events {{ worker_connections 64; }}\n"
        f"http {{\n    access_log {prefix / 'access.log'};\n{temp}{site}}}\n"
    )
    return conf


@dataclass
class Edge:
    https: str
    http: str
    tls: ssl.SSLContext
    acme: Path

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.https, verify=self.tls, timeout=30)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def model() -> AsyncIterator[ScriptedLLM]:
    server = ScriptedLLM([])
    await server.start()
    yield server
    await server.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def edge(tmp_path_factory: pytest.TempPathFactory, model: ScriptedLLM) -> AsyncIterator[Edge]:
    """Warren (embedded storage) on a loopback port, and nginx in front of it."""
    prefix = tmp_path_factory.mktemp("nginx")
    warren = WarrenProcess(server_env(prefix / "data", model.base_url), prefix / "warren.log")
    http_port, https_port = free_port(), free_port()
    cert, key = self_signed(prefix)
    (prefix / "acme" / ".well-known" / "acme-challenge").mkdir(parents=True)
    command = [nginx_binary(), "-p", str(prefix), "-e", str(prefix / "error.log")]
    command += ["-c", str(nginx_config(prefix, cert, key, warren.port, http_port, https_port))]
    check = subprocess.run([*command, "-t"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    with (prefix / "nginx.out").open("wb") as out:
        nginx = subprocess.Popen([*command, "-g", "daemon off;"], stdout=out, stderr=out)
    try:
        await warren.start()
        async with asyncio.timeout(10):
            while True:
                assert nginx.poll() is None, (prefix / "error.log").read_text()
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", https_port)
                except OSError:
                    await asyncio.sleep(0.05)
                    continue
                writer.close()
                await writer.wait_closed()
                break
        tls = ssl.create_default_context(cafile=str(cert))
        acme = prefix / "acme"
        yield Edge(f"https://127.0.0.1:{https_port}", f"http://127.0.0.1:{http_port}", tls, acme)
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
        warren.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def api(edge: Edge) -> AsyncIterator[Api]:
    """A newly registered user, talking to Warren through nginx only."""
    client = Api(edge.https)
    await client.http.aclose()
    client.http = edge.client()
    await client.register()
    yield client
    await client.aclose()


def words(count: int) -> str:
    return "".join(f"w{i} " for i in range(count))


async def test_a_run_streams_through_nginx_event_by_event(api: Api, model: ScriptedLLM) -> None:
    chunks, delay = 8, 0.4  # the model streams its reply in 8 deltas, 0.4 s apart
    model.script([(MAIN, [Reply(text=words(chunks), text_chunks=chunks, delay=delay)])])
    thread = await api.new_thread()
    body = {"messages": [{"role": "user", "content": "count slowly"}]}
    loop = asyncio.get_running_loop()
    seen = Stream(status=0, headers=httpx.Headers())
    arrived: list[float] = []  # when each frame was complete on the client's side

    async def timed(lines: AsyncIterator[str]) -> AsyncIterator[str]:
        async for line in lines:
            yield line  # parse_sse has handled the line when it asks for the next one
            arrived.extend([loop.time()] * (len(seen.frames) - len(arrived)))

    headers = {**api.auth(), "Accept-Encoding": "gzip"}
    url = f"/api/threads/{thread['id']}/runs/stream"
    async with api.http.stream("POST", url, json=body, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in response.headers  # plain text, as sent
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["strict-transport-security"] == "max-age=63072000"
        assert response.headers["server"] == "nginx"  # no version: server_tokens off
        await parse_sse(timed(response.aiter_lines()), seen)

    assert (seen.types[0], seen.types[-1]) == ("run_started", "done")
    assert seen.frames[-1].data["status"] == "success"
    assert text_of(seen.frames) == words(chunks)
    messages = [at for at, kind in zip(arrived, seen.types, strict=True) if kind == "message"]
    assert len(messages) == chunks
    # the deltas arrive while the model is still writing, not in one burst at the end
    scripted = (chunks - 1) * delay
    assert messages[-1] - messages[0] >= 0.6 * scripted, arrived
    assert arrived[-1] - messages[0] >= 0.6 * scripted, arrived
    # nginx does compress ordinary responses, so the stream's plain encoding is deliberate
    spec = await api.http.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert spec.headers["content-encoding"] == "gzip"
    assert spec.json()["info"]["title"] == "Warren"


async def test_a_dropped_stream_resumes_through_nginx(api: Api, model: ScriptedLLM) -> None:
    answer = words(40)
    model.script([(MAIN, [Reply(text=answer, text_chunks=40, delay=0.05)])])
    thread = await api.new_thread()
    runs = f"/api/threads/{thread['id']}/runs"
    body = {"messages": [{"role": "user", "content": "count"}]}
    # read the first frames, then hang up mid-answer (the run goes on)
    head = await api.stream("POST", f"{runs}/stream", json=body, stop_after=6)
    assert head.status == 200
    assert head.types == ["run_started"] + ["message"] * 5
    run_id = head.frames[0].data["run_id"]
    last = head.frames[-1].id or ""
    rest = await api.stream("GET", f"{runs}/{run_id}/stream", headers={"Last-Event-ID": last})
    assert rest.status == 200
    assert rest.headers["content-type"].startswith("text/event-stream")
    assert rest.frames[-1].data["type"] == "done"
    assert rest.frames[-1].data["status"] == "success"
    ids = [int(f.id or "") for f in head.frames + rest.frames]  # embedded: 1, 2, 3, …
    assert ids == list(range(1, len(ids) + 1))  # contiguous, no duplicate, none missing
    full = await api.stream("GET", f"{runs}/{run_id}/stream")  # the whole log, replayed
    assert_same_frames(head.frames + rest.frames, full.frames)
    assert text_of(full.frames) == answer


async def test_nginx_guards_the_edge(edge: Edge) -> None:
    (edge.acme / ".well-known" / "acme-challenge" / "token-1").write_text("proof")
    async with edge.client() as https, httpx.AsyncClient(base_url=edge.http) as http:
        assert (await https.get("/metrics")).status_code == 403
        assert (await https.get("/metrics?format=prometheus")).status_code == 403
        health = await https.get("/healthz")
        assert health.status_code == 200
        assert health.headers["strict-transport-security"] == "max-age=63072000"
        moved = await http.get("/api/auth/config?x=1")
        assert moved.status_code == 301
        assert moved.headers["location"] == "https://127.0.0.1/api/auth/config?x=1"
        challenge = await http.get("/.well-known/acme-challenge/token-1")
        assert (challenge.status_code, challenge.text) == (200, "proof")
