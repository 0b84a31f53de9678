# syntax=docker/dockerfile:1.7
#
# The Gatehouse image: one binary, `gatehouse`, whose arguments pick the role.
#
#   docker run IMAGE                       serve all (the default command)
#   docker run IMAGE serve token           token service: public 4444, admin 4445, gRPC 4446
#                                          (gRPC on loopback unless given an address and mTLS files)
#   docker run IMAGE serve login           login UI: 4447
#   docker run IMAGE migrate               apply the database migrations and exit
#   docker run IMAGE clients list -e URL   any other subcommand of the CLI
#
# Build it with `docker build -t gatehouse:local .` (BuildKit, the default builder).
#
# Runtime image: gcr.io/distroless/cc-debian12, `nonroot` variant. `gatehouse` links only glibc,
# libgcc_s and libm (TLS is rustls with aws-lc-rs, built in), which `cc` provides; the image has
# no shell, no package manager and no setuid binary, and runs as uid/gid 65532. The only other
# file added is `gatehouse-healthcheck`, a 60-line static C program (deploy/docker/healthcheck.c)
# so that docker-compose health checks can probe /health/ready without a shell or curl;
# Kubernetes probes the same paths from the kubelet and does not use it.
#
# No secret is baked in: the system secret, admin token and database/Redis URLs come from the
# environment at run time (an env file with compose, a Secret with Helm). The build context is an
# allow-list (.dockerignore), so local .env files, data/ and target/ never reach the builder.
#
# Reproducible builds: the dependency graph is fixed by Cargo.lock (`--locked` refuses to build if
# it would change), the toolchain and runtime by the two base images below. Tags move; for a
# release, pin both by digest (resolve them with `docker buildx imagetools inspect IMAGE:TAG`):
#
#   docker build \
#     --build-arg RUST_IMAGE=docker.io/library/rust:1.95-bookworm@sha256:<digest> \
#     --build-arg RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot@sha256:<digest> \
#     --build-arg SOURCE_DATE_EPOCH="$(git log -1 --format=%ct)" \
#     --build-arg GIT_SHA="$(git rev-parse --short=12 HEAD)" \
#     --output type=image,name=gatehouse:VERSION,rewrite-timestamp=true .
#
# The builder must be Debian 12 (bookworm) like the runtime, so the binary never needs a newer
# glibc than the runtime image has.

ARG RUST_IMAGE=docker.io/library/rust:1.95-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

# ---------------------------------------------------------------------------------------------
FROM ${RUST_IMAGE} AS builder
ARG SOURCE_DATE_EPOCH
# The commit, for the gatehouse_build_info metric (the build context has no .git):
# --build-arg GIT_SHA="$(git rev-parse --short=12 HEAD)". A build argument is in the environment of
# the RUN steps below, where crates/gatehouse/build.rs reads it.
ARG GIT_SHA=unknown
ENV CARGO_INCREMENTAL=0 \
    CARGO_TERM_COLOR=never \
    CARGO_NET_RETRY=5
WORKDIR /src
# The build context is the allow-list in .dockerignore: the workspace's manifests and members and
# the files they compile in (proto/, migrations/). A new workspace member needs a line there;
# scripts/validate-deploy checks that every member is allowed.
COPY . .
# The caches speed up rebuilds only; the result depends on the sources and Cargo.lock alone.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p gatehouse \
 && install -D -m 0755 target/release/gatehouse /out/usr/local/bin/gatehouse \
 && install -d -m 0750 /out/var/lib/gatehouse /out/var/lib/gatehouse/grpc-certs

# ---------------------------------------------------------------------------------------------
FROM ${RUST_IMAGE} AS healthcheck
WORKDIR /src
COPY deploy/docker/healthcheck.c ./
RUN gcc -static -Os -s -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror \
      -o /gatehouse-healthcheck healthcheck.c

# ---------------------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS runtime
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="gatehouse" \
      org.opencontainers.image.description="Gatehouse: an OAuth 2.0 and OpenID Connect authorization server" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"

COPY --from=builder /out/usr/local/bin/gatehouse /usr/local/bin/gatehouse
COPY --from=healthcheck /gatehouse-healthcheck /usr/local/bin/gatehouse-healthcheck
# Copying the parent's contents creates /var/lib/gatehouse itself with the nonroot owner, and
# /var/lib/gatehouse/grpc-certs too: an empty named volume mounted there takes over the image
# directory's owner, so `gatehouse certs grpc` (running as 65532) can write the gRPC link's
# certificates into it (docker-compose.yml's grpc-certs service does).
COPY --from=builder --chown=65532:65532 /out/var/lib/ /var/lib/

# The public and login listeners bind every interface inside the container. The admin listener
# stays on loopback unless GATEHOUSE_ADMIN_ADDR says otherwise (and then GATEHOUSE_ADMIN_TOKEN is
# required). gRPC stays on loopback too (127.0.0.1:4446), where `serve all`'s own login UI reaches
# it: off loopback the token service requires mutual TLS (GATEHOUSE_GRPC_TLS_CERT,
# GATEHOUSE_GRPC_TLS_KEY, GATEHOUSE_GRPC_CLIENT_CA) and refuses to start without it, so
# GATEHOUSE_GRPC_ADDR=0.0.0.0:4446 comes with the certificate files from compose or the Helm
# chart, never from an image default.
# The data directory only matters for the embedded SQLite default and --dev.
ENV GATEHOUSE_PUBLIC_ADDR=0.0.0.0:4444 \
    GATEHOUSE_LOGIN_ADDR=0.0.0.0:4447 \
    GATEHOUSE_DATA_DIR=/var/lib/gatehouse

WORKDIR /var/lib/gatehouse
USER 65532:65532
EXPOSE 4444 4445 4446 4447
# SIGTERM starts the graceful shutdown (GATEHOUSE_SHUTDOWN_GRACE, 20 s by default).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/gatehouse"]
CMD ["serve", "all"]
