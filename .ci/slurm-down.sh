#!/usr/bin/env bash
# Stop what .ci/slurm-up.sh started: cancel our jobs, then the recorded PIDs only (never pkill/killall).
set -uo pipefail
DIR=${ANOLOC_SLURM_DIR:-/tmp/anoloc-slurm}
timeout 10 scancel --user="$(id -un)" 2>/dev/null || true
for daemon in slurmd slurmctld munged; do
  pidfile="$DIR/$daemon.pid"
  [ -s "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  rm -f "$pidfile"
  kill -0 "$pid" 2>/dev/null || continue
  kill -TERM "$pid"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  echo "stopped $daemon ($pid)"
done
exit 0
