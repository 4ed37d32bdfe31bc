"""The `warren` command: `warren serve` runs the server, `warren healthcheck` asks it
whether it answers (the Docker image's `HEALTHCHECK`)."""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence

HEALTH_TIMEOUT_SECONDS = 5.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="warren", description="Warren, a deep-agent server.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    serve.add_argument(
        "--graceful-timeout",
        type=float,
        default=10.0,
        help="seconds to let open requests finish on shutdown (default 10)",
    )
    check = commands.add_parser(
        "healthcheck", help="exit 0 if the server on this machine answers /healthz, else 1"
    )
    check.add_argument("--host", default="127.0.0.1", help="address to ask (default 127.0.0.1)")
    check.add_argument("--port", type=int, default=8000, help="port to ask (default 8000)")
    check.add_argument(
        "--timeout", type=float, default=HEALTH_TIMEOUT_SECONDS, help="seconds to wait (default 5)"
    )
    return parser


def healthcheck(host: str, port: int, timeout: float) -> int:
    """Standard library only: run every 30 s by Docker, it must not import the server."""
    url = f"http://{host}:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            if response.status == 200:
                return 0
            sys.stderr.write(f"warren: {url} answered {response.status}\n")
    except (urllib.error.URLError, OSError) as exc:  # HTTPError (non-2xx) is a URLError
        sys.stderr.write(f"warren: {url} did not answer: {exc}\n")
    return 1


def serve(host: str, port: int, graceful_timeout: float) -> int:
    # imported here: `warren healthcheck` must stay quick and light
    import uvicorn
    from pydantic import ValidationError

    from warren.app import create_app
    from warren.config import Settings, ensure_jwt_secret
    from warren.errors import ConfigError
    from warren.logs import configure_logging, get_logger

    try:
        settings = Settings()
    except ValidationError as exc:
        # logging is configured from these very settings: tell the operator directly
        sys.stderr.write(f"warren: invalid settings:\n{exc}\n")
        return 2
    configure_logging(settings.warren_log_level, settings.warren_log_format)
    log = get_logger("warren")
    try:
        ensure_jwt_secret(settings)  # fail before binding the port, with a clear message
    except ConfigError as exc:
        log.error("cannot start", reason=exc.detail)
        return 2
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_config=None,
        proxy_headers=True,
        forwarded_allow_ips=settings.warren_forwarded_allow_ips,
        timeout_graceful_shutdown=int(graceful_timeout),
        server_header=False,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return serve(args.host, args.port, args.graceful_timeout)
    if args.command == "healthcheck":
        return healthcheck(args.host, args.port, args.timeout)
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
