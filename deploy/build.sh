#!/usr/bin/env bash
# Builds the static coal-mine and mailsink binaries on the host and the two FROM scratch
# images that carry them: coal-mine:local and coal-mine-mailsink:local. Nothing is pulled
# and nothing is compiled inside Docker. Safe to run again: it overwrites what it made.
#
#   deploy/build.sh                  binaries into deploy/build/, then both images
#   deploy/build.sh --binaries-only  just deploy/build/ (then `docker compose up --build`)
#
# Environment: VERSION (default: git describe, else "dev"), IMAGE_TAG (default: local),
# CA_BUNDLE (default: /etc/ssl/certs/ca-certificates.crt).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
context="$repo/deploy"
out="$context/build"
tag=${IMAGE_TAG:-local}
ca_bundle=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
images=1
case "${1:-}" in
  "") ;;
  --binaries-only) images=0 ;;
  *) echo "usage: $0 [--binaries-only]" >&2; exit 2 ;;
esac

version=${VERSION:-$(git -C "$repo" describe --tags --always --dirty 2>/dev/null || echo dev)}

# The images run on the Docker engine's architecture, which need not be the host's.
goarch=$(go env GOARCH)
if [ "$images" = 1 ]; then
  goarch=$(docker version --format '{{.Server.Arch}}' 2>/dev/null || echo "$goarch")
fi

if [ ! -r "$ca_bundle" ]; then
  echo "build.sh: no CA bundle at $ca_bundle (install ca-certificates or set CA_BUNDLE)" >&2
  exit 1
fi

mkdir -p "$out/data"
# The image's /data is the template Docker copies into a fresh volume: private to the
# daemon's user, like the directory the daemon would create itself.
chmod 0700 "$out/data"
cp "$ca_bundle" "$out/ca-certificates.crt"
chmod 0644 "$out/ca-certificates.crt"

build() { # build <output name> <package>
  echo "build.sh: go build $2 ($version, linux/$goarch)"
  # timetzdata embeds the zone database: scratch has no /usr/share/zoneinfo.
  (cd "$repo" && CGO_ENABLED=0 GOOS=linux GOARCH="$goarch" go build -trimpath \
    -tags timetzdata -ldflags "-s -w -X main.version=$version" -o "$out/$1" "$2")
}
build coal-mine ./cmd/coal-mine
build mailsink ./cmd/mailsink

if [ "$images" = 1 ]; then
  for image in coal-mine:Dockerfile coal-mine-mailsink:mailsink.Dockerfile; do
    name=${image%%:*}
    dockerfile=${image#*:}
    echo "build.sh: docker build $name:$tag"
    docker build --quiet --tag "$name:$tag" \
      --label "org.opencontainers.image.version=$version" \
      --label "org.opencontainers.image.source=https://github.com/coal-mine/coal-mine" \
      --file "$context/$dockerfile" "$context"
  done
fi
