# syntax=docker/dockerfile:1.7
# Warren in one image: the API and the built web client.
#   client   Node builds client/dist from the lockfile (on the build machine's platform:
#            the output is plain files, the same for every target architecture)
#   build    uv installs the locked dependencies, then Warren, into /app/.venv
#   runtime  slim Python with the virtualenv and client/dist: no uv, Node, compilers or
#            browser; runs as an unprivileged user under tini
# `make test` runs the same commands outside Docker (tests/deploy/test_image.py).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9

FROM ${UV_IMAGE} AS uv

FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS client
WORKDIR /src/client
COPY client/package.json client/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund
COPY client/ ./
RUN npm run build

FROM ${PYTHON_IMAGE} AS build
COPY --from=uv /uv /usr/local/bin/uv
# bytecode compiled once here instead of at every start; copied (not linked) out of the
# cache mount; never a downloaded Python: the image's own one is the one that runs
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
# the dependencies first, from the lockfile alone: this layer survives code changes
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --locked --no-dev --no-editable --no-install-project
COPY pyproject.toml uv.lock README.md ./
COPY src ./src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-editable

FROM ${PYTHON_IMAGE} AS runtime
# tini: PID 1 that forwards signals and reaps the sandboxes' orphaned processes;
# fonts-wqy-microhei: the CJK font PDF exports embed
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 warren \
    && useradd --system --uid 10001 --gid warren --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin warren \
    && install -d -o warren -g warren -m 0750 /data
# root-owned and read-only for the server: only /data is writable
COPY --from=build /app/.venv /app/.venv
COPY --from=client /src/client/dist /app/client/dist
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    WARREN_DATA_DIR=/data \
    WARREN_CLIENT_DIR=/app/client/dist
WORKDIR /app
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=6s --start-period=90s --retries=3 \
    CMD ["warren", "healthcheck", "--port", "8000"]
# uvicorn stops on SIGTERM: it refuses new connections, lets open requests finish for up
# to --graceful-timeout seconds, then Warren closes its clients (give `docker stop` more)
STOPSIGNAL SIGTERM
ENTRYPOINT ["tini", "--", "warren"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000", "--graceful-timeout", "30"]
