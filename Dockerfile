# syntax=docker/dockerfile:1.7
# OpsBox images, one file, three targets:
#   docker build --target api     -t ghcr.io/opsbox/opsbox-api:<tag> .
#   docker build --target worker  -t ghcr.io/opsbox/opsbox-worker:<tag> .
#   docker build --target console -t ghcr.io/opsbox/opsbox:<tag> .
# (`opsbox build` does all three with the tags git-<sha> and the version.)
# Why distroless cc and how the digest is pinned: docs/adr/0004-*.md.

ARG RUST_IMAGE=docker.io/library/rust:1.95.0-slim-bookworm
# RELEASE PIPELINE PINS THIS: CI resolves the digest of the tag below and
# passes --build-arg RUNTIME_IMAGE=gcr.io/distroless/cc-debian12@sha256:<digest>.
# No digest is written here because none could be looked up where this file
# was written; the tag alone is for local builds only.
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

# ---- Build ------------------------------------------------------------------
FROM ${RUST_IMAGE} AS chef
# cargo-chef turns the workspace's manifests into a recipe, so the dependency
# build is a layer of its own, rebuilt only when Cargo.toml/Cargo.lock change.
RUN cargo install cargo-chef --locked --version 0.1.73
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json \
      -p opsbox-api -p opsbox-worker -p opsbox
COPY . .
RUN cargo build --release --locked --bins -p opsbox-api -p opsbox-worker -p opsbox \
 && strip target/release/opsbox-api target/release/opsbox-worker target/release/opsbox

# ---- Runtime: no shell, no package manager, numeric non-root user -----------
FROM ${RUNTIME_IMAGE} AS runtime
USER 65532:65532
WORKDIR /

FROM runtime AS api
COPY --from=builder --chown=0:0 --chmod=0555 /src/target/release/opsbox-api /usr/local/bin/opsbox-api
ENV OPSBOX_API_ADDR=0.0.0.0:8080
EXPOSE 8080
# Distroless has no curl: the binary probes its own /health (2 s timeout).
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/opsbox-api", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/opsbox-api"]
CMD ["serve"]

FROM runtime AS worker
COPY --from=builder --chown=0:0 --chmod=0555 /src/target/release/opsbox-worker /usr/local/bin/opsbox-worker
ENV OPSBOX_WORKER_METRICS_ADDR=0.0.0.0:9091
EXPOSE 9091
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/opsbox-worker", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/opsbox-worker"]

# The console, for in-cluster drills and `kubectl run`: a CLI, no server, so
# no HEALTHCHECK (NONE says so explicitly).
FROM runtime AS console
COPY --from=builder --chown=0:0 --chmod=0555 /src/target/release/opsbox /usr/local/bin/opsbox
ENV HOME=/tmp
HEALTHCHECK NONE
ENTRYPOINT ["/usr/local/bin/opsbox"]
CMD ["--help"]
