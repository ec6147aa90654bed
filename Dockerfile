# syntax=docker/dockerfile:1
#
# Leadflow image: one image, three services.
#   docker build -t leadflow:latest .
#   docker run leadflow:latest              # intake (the default CMD)
#   docker run leadflow:latest qualifier    # or: writer
# Both stages must use the same base image: the venv's python is a symlink
# to the base image's /usr/local/bin/python3.11.
ARG PYTHON_IMAGE=python:3.11-slim

# ---- builder: resolve pinned deps and install the package into /opt/venv ----
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src

# Dependencies first, in their own layer: this is rebuilt only when
# pyproject.toml or constraints.txt change, not on every code edit.
COPY pyproject.toml constraints.txt ./
RUN --mount=type=cache,target=/root/.cache/pip \
    python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
 && pip install -c constraints.txt -r /tmp/requirements.txt

# Then the package itself (a regular, non-editable install into the venv).
# README.md is named by pyproject.toml's `readme`, so the build needs it.
COPY README.md ./
COPY schemas ./schemas
COPY connectors ./connectors
COPY services ./services
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install -c constraints.txt . \
 && cd / && python -c "import schemas, connectors, services" \
 && test -x /opt/venv/bin/leadflow

# ---- runtime: the venv and the default config, nothing else ----
FROM ${PYTHON_IMAGE}

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LEADFLOW_HOST=0.0.0.0 \
    LEADFLOW_CONFIG_DIR=/etc/leadflow/config \
    LEADFLOW_DATA_DIR=/var/lib/leadflow \
    LEADFLOW_BUS=kafka

# Fixed numeric uid/gid so Kubernetes' runAsNonRoot can verify it.
RUN groupadd --system --gid 10001 leadflow \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin leadflow \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/leadflow

COPY --from=builder /opt/venv /opt/venv
# Baked-in default config; compose and Kubernetes mount the real one over it.
COPY deploy/config /etc/leadflow/config

USER 10001:10001
WORKDIR /var/lib/leadflow
EXPOSE 8000

# Liveness only (process up); readiness (/readyz) is left to the orchestrator.
# Python stdlib, because the slim image has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('LEADFLOW_PORT', '8000'), timeout=4)"]

ENTRYPOINT ["leadflow"]
CMD ["intake"]
