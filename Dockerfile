# The agents' image: every in-cluster component of hyperpod-deps, one entry point per command
# (`hyperpod-deps health agent`, `hyperpod-deps jobs controller`). The chart refers to it as
# ghcr.io/hyperpod-deps/agents:<chart appVersion>. No registry publishes it yet: build it, push
# it to your own registry, and install with --set global.imageRegistry=<registry>:
#   docker build -t <registry>/hyperpod-deps/agents:0.1.0 .
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
# Wheels of the package and its runtime dependencies only: no test tools, no helm, no control plane.
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels hyperpod-deps && rm -rf /wheels
# The non-root user the chart runs every agent container as.
USER 65532:65532
ENTRYPOINT ["hyperpod-deps"]
