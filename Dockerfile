# syntax=docker/dockerfile:1
# The minivess image: the CLI with the CPU build of torch, run as a non-root user. Default command: the HTTP
# segmentation service on port 3000 (`minivess serve`); docker-compose.yml also runs `mlflow server` from it.
# Build: docker build -t minivess:local .   (never built in CI: tests/unit/deploy checks the files only)

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# torch first, pinned like pyproject.toml, from the CPU index: the default index pulls the multi-GB CUDA build.
RUN pip install --upgrade pip \
 && pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
# The project itself (not editable: the image carries no source tree); torch is already satisfied.
RUN pip install . && pip check

FROM python:3.11-slim
ARG UID=10001
# A numeric non-root user (Kubernetes' runAsNonRoot can only verify a numeric USER); the data folders it owns
# are the mount points, so fresh named volumes inherit that ownership.
RUN groupadd --gid ${UID} minivess \
 && useradd --uid ${UID} --gid ${UID} --home-dir /home/minivess --create-home --shell /usr/sbin/nologin minivess \
 && mkdir -p /data/minivess /data/mlflow \
 && chown -R ${UID}:${UID} /data
COPY --from=build /opt/venv /opt/venv
# The services bind 0.0.0.0 inside the container (MINIVESS_SERVE_ALLOW_REMOTE=1): the port mapping decides who
# reaches them (compose binds the host side to 127.0.0.1 by default).
# Everything written at run time goes under MINIVESS_HOME (a volume) or /tmp (tmpfs / emptyDir), so the root
# file system can be read-only. Outbound telemetry of the libraries we ship is off.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MINIVESS_HOME=/data/minivess \
    MINIVESS_SERVE_ALLOW_REMOTE=1 \
    MPLBACKEND=Agg \
    MPLCONFIGDIR=/tmp/matplotlib \
    XDG_CACHE_HOME=/tmp/.cache \
    GRADIO_ANALYTICS_ENABLED=False \
    BENTOML_DO_NOT_TRACK=True \
    MLFLOW_DISABLE_TELEMETRY=true \
    DO_NOT_TRACK=true \
    RAY_USAGE_STATS_ENABLED=0 \
    LITELLM_LOCAL_MODEL_COST_MAP=True
USER ${UID}:${UID}
WORKDIR /home/minivess
# 3000: `minivess serve` (HTTP API, /healthz, /metrics); 7860: the Gradio viewer.
EXPOSE 3000 7860
CMD ["minivess", "serve", "--host", "0.0.0.0", "--port", "3000"]
