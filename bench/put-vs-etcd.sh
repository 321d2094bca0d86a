#!/usr/bin/env bash
# Put workload, quorate vs etcd, side by side. Installs etcd (Debian's etcd-server) if missing.
# Usage: bash bench/put-vs-etcd.sh [--seconds 10] [--concurrency 1,8,64,256] [--target leader|all] [--json]
#        [--systems etcd,quorate,quorate-multipaxos,quorate-pbft]   (default etcd,quorate)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v etcd >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq etcd-server
  # The package starts a system etcd on 2379; the benchmark runs its own clusters.
  $SUDO systemctl stop etcd 2>/dev/null || $SUDO service etcd stop 2>/dev/null || true
fi
npm run build --silent
exec node dist/bench/put-vs-etcd.js "$@"
