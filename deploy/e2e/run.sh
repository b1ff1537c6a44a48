#!/usr/bin/env bash
# The Docker end-to-end suite: builds the images (deploy/build.sh), then starts the
# repository's docker-compose.yml under a project name of its own and runs the scenarios
# in deploy/e2e (go test -tags e2e). Everything it starts is removed on exit, volumes
# included, whether the tests pass or not. Needs a Docker engine and `docker compose`
# or `docker-compose`; pulls nothing.
#
#   deploy/e2e/run.sh [go test flags, e.g. -run TestDockerCluster]
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"

export COAL_MINE_E2E_PROJECT=${COAL_MINE_E2E_PROJECT:-coalmine-e2e-$$-$(date +%s)}

if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  compose=(docker-compose)
else
  echo "run.sh: neither 'docker compose' nor 'docker-compose' is installed" >&2
  exit 1
fi

cleanup() {
  status=$?
  if [ "${COAL_MINE_E2E_KEEP:-0}" != 1 ]; then
    # The test removes its project itself; this catches an interrupted or crashed run.
    "${compose[@]}" --project-name "$COAL_MINE_E2E_PROJECT" --file "$repo/docker-compose.yml" \
      down --volumes --remove-orphans --timeout 5 >/dev/null 2>&1 || true
    docker network rm "${COAL_MINE_E2E_PROJECT}_probe" >/dev/null 2>&1 || true
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

started=$(date +%s)
"$repo/deploy/build.sh"
echo "run.sh: images built in $(( $(date +%s) - started ))s; compose project $COAL_MINE_E2E_PROJECT"
go test -tags e2e -count=1 -v -timeout 15m "$@" ./deploy/e2e/...
echo "run.sh: Docker end-to-end suite passed in $(( $(date +%s) - started ))s"
