# infowork — one image for every process (serve | web | indexer | migrate | admin commands).
#
#   docker build -t infowork:dev --build-arg VERSION=$(git describe --always --dirty) .
#
# Build stage: cgo is required (gojieba is C++); the jieba dictionaries, templates, static files,
# mappings and migrations are embedded, so the runtime image needs no source tree.
FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first, so the dependency layer is cached across source edits.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=1 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/infowork ./cmd/infowork

# Runtime stage: Debian bookworm like the build stage (same glibc and libstdc++ ABI).
FROM debian:bookworm-slim
# chromium and fonts-wqy-microhei print signed periodical issues to PDF (package render): the
# CJK font ships in the image, nothing is fetched at run time.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl tzdata libstdc++6 \
      chromium fonts-wqy-microhei \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 infowork \
 && useradd --system --uid 10001 --gid infowork --home-dir /data --shell /usr/sbin/nologin infowork \
 && mkdir -p /data/blobs /etc/infowork \
 && chown -R infowork:infowork /data
COPY --from=build /out/infowork /usr/local/bin/infowork
# tzdata is installed: set TZ (e.g. Asia/Shanghai) at run time if logs should use local time.
ENV INFOWORK_DATA_DIR=/data \
    INFOWORK_HTTP_ADDR=0.0.0.0:8080
# /data holds the attachment blobs (share /data/blobs between web replicas), the extracted jieba
# dictionaries and, with the embedded engine, the index. Never the database: set
# INFOWORK_DATABASE_URL (without it the binary would try to start a private PostgreSQL).
VOLUME ["/data"]
USER 10001:10001
EXPOSE 8080
# Liveness only (the process answers); readiness (/readyz) is for load balancers and Kubernetes.
# `infowork indexer` and `infowork migrate` have no HTTP listener: disable the check for them
# (compose: healthcheck: {disable: true}; the indexer services there run `serve` instead).
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD curl -fsS -o /dev/null "http://127.0.0.1:${INFOWORK_HTTP_ADDR##*:}/healthz" || exit 1
ENTRYPOINT ["/usr/local/bin/infowork"]
CMD ["serve"]
