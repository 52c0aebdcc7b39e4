# Multi-stage build: a static binary on a distroless, non-root base (no shell
# at run time). Build: docker build --build-arg VERSION=$(git describe --tags --always) \
#   --build-arg REVISION=$(git rev-parse HEAD) -t tenantgate .
#
# The base images are pinned by tag, not yet by digest, and a tag moves when
# its publisher rebuilds it. README "Updating the base images" says how to
# pin and update them; .dockerignore keeps the build context to the sources.

# To pin: docker buildx imagetools inspect golang:1.26 | grep -m1 Digest,
# then FROM golang:1.26@sha256:<digest> AS build.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG REVISION=unknown
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.version=${VERSION} -X main.revision=${REVISION}" -o /out/tenantgate ./cmd/tenantgate

# To pin: docker buildx imagetools inspect gcr.io/distroless/static-debian12:nonroot | grep -m1 Digest,
# then FROM gcr.io/distroless/static-debian12:nonroot@sha256:<digest>.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tenantgate /tenantgate
USER 65532:65532
EXPOSE 8080 9090
ENTRYPOINT ["/tenantgate"]
CMD ["serve"]
