# Riposte as a container image: one static binary (CGO off), the CA
# certificates, an empty /data owned by a non-root user, nothing else. No
# shell, no libc, no /etc/passwd: e2e/static_test.go runs the binary built
# the same way in a root filesystem holding only that.
#
#   docker build -t riposte --build-arg VERSION=$(git describe --tags --always) .
#   docker run --rm -p 8080:8080 -v riposte-data:/data riposte
#
# docs/cluster.md runs three of these on a NATS cluster and PostgreSQL.

FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# VERSION names the build in `riposte version` and riposte_build_info when
# the context has no .git (.dockerignore leaves it out).
ARG VERSION=""
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/riposte-soar/riposte/internal/buildinfo.Override=${VERSION}" \
      -o /out/riposte ./cmd/riposte \
 && /out/riposte version
# The image user (65532, distroless "nonroot") owns /data; scratch has no
# mkdir or chown, so the directory is made here and copied.
RUN mkdir -p /out/data && chown 65532:65532 /out/data && chmod 0700 /out/data

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/riposte /riposte
COPY --from=build --chown=65532:65532 /out/data /data
COPY deploy/image/riposte.yaml /etc/riposte/riposte.yaml
USER 65532:65532
# The configuration is a file, not ENV: RIPOSTE_* variables would override
# what an operator puts in their own file.
ENV RIPOSTE_CONFIG=/etc/riposte/riposte.yaml
# API, console, /metrics, /healthz, /readyz; syslog (UDP and TCP); the
# embedded NATS for agents (single node only: a cluster uses nats.url).
EXPOSE 8080 5514/udp 5514/tcp 4223
VOLUME /data
ENTRYPOINT ["/riposte", "serve"]
