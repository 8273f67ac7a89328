# Ward as a minimal container image: the static binary, CA certificates,
# and a passwd entry for its non-root user. No shell, no package manager,
# no libc: CGO is off (SQLite is modernc.org/sqlite, pure Go).
#
#   docker build -t ward --build-arg VERSION=v1.2.3 .    (or podman build)
#   docker run --rm ward version
#   docker run -v /etc/ward:/etc/ward:ro -p 9000:9000 ward serve --config /etc/ward/ward.yaml
#
# The image runs as uid 65532 with /data (data_dir) as its only writable
# folder; the root filesystem may be mounted read-only. docs/DEPLOYMENT.md
# ("Packaging") has the details and what was tested.

ARG GO_IMAGE=docker.io/library/golang:1.26-bookworm

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION}" -o /out/ward ./cmd/ward
RUN mkdir -p /out/etc /out/data && \
    echo 'ward:x:65532:65532:ward:/data:/sbin/nologin' > /out/etc/passwd && \
    echo 'ward:x:65532:' > /out/etc/group && \
    cp /etc/ssl/certs/ca-certificates.crt /out/ca-certificates.crt

FROM scratch
COPY --from=build /out/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/etc/passwd /out/etc/group /etc/
COPY --from=build --chown=65532:65532 /out/data /data
COPY --from=build /out/ward /usr/local/bin/ward
USER 65532:65532
WORKDIR /data
# listen (authorization server), gateway.listen, admin_listen: the image
# declares Ward's usual ports; the configuration decides.
EXPOSE 9000 9001 9002
ENTRYPOINT ["/usr/local/bin/ward"]
CMD ["serve", "--config", "/etc/ward/ward.yaml"]
