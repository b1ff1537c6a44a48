#!/usr/bin/env bash
# The fault campaign as CI runs it: a short seeded run (150 s of workload by default)
# against three real coal-mine processes on loopback. Installs iptables when it runs as
# root and iptables is missing, so that partitions are injected; elsewhere the campaign
# skips partitions and says so. Exits non-zero when a check fails.
#
#   deploy/chaos/run.sh                      # CHAOS_SEED=1, CHAOS_DURATION=150s
#   CHAOS_SEED=7 CHAOS_DURATION=5m deploy/chaos/run.sh
#   deploy/chaos/run.sh -clients 4           # further flags go to the campaign
#
# The output directory (node logs, ops.jsonl, summary.txt, violations.txt) is printed;
# CHAOS_OUT chooses it.
set -euo pipefail
cd "$(dirname "$0")/../.."

export CHAOS_SEED=${CHAOS_SEED:-1}
export CHAOS_DURATION=${CHAOS_DURATION:-150s}

if [ "$(id -u)" = 0 ] && ! command -v iptables >/dev/null 2>&1; then
  echo "run.sh: installing iptables for the partition faults"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iptables >/dev/null; }; then
    echo "run.sh: could not install iptables; the campaign will skip partitions" >&2
  fi
fi

bin=$(mktemp -d)/chaos
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./deploy/chaos
# The built binary rather than `go run`, and SIGINT/SIGTERM passed on to it: the
# campaign itself must see them, to remove its iptables rules and stop its nodes.
"$bin" "$@" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null' INT TERM
status=0
while kill -0 "$pid" 2>/dev/null; do
  wait "$pid" && status=0 || status=$?
done
exit "$status"
