#!/usr/bin/env bash
# Start a one-node SLURM cluster on this machine for CI (root, no systemd): munged, slurmctld, slurmd
# as background processes whose PIDs are recorded in $ANOLOC_SLURM_DIR; .ci/slurm-down.sh stops exactly
# those. Installs Debian's slurmctld/slurmd/slurm-client/munge when missing.
# Env: ANOLOC_SLURM_DIR (/tmp/anoloc-slurm), ANOLOC_SLURM_MEM_MB (16000), ANOLOC_SLURM_GPUS (1 fake GPU:
# placeholder device files, so rules requesting `gpu=1` are scheduled and see CUDA_VISIBLE_DEVICES).
set -euo pipefail
DIR=${ANOLOC_SLURM_DIR:-/tmp/anoloc-slurm}
MEM_MB=${ANOLOC_SLURM_MEM_MB:-16000}
GPUS=${ANOLOC_SLURM_GPUS:-1}
CPUS=$(nproc)
NODE=$(hostname -s)
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$DIR"

[ "$(id -u)" -eq 0 ] || { echo "slurm-up.sh must run as root (CI machines)"; exit 1; }
if [ -s "$DIR/slurmctld.pid" ] && kill -0 "$(cat "$DIR/slurmctld.pid")" 2>/dev/null; then
  "$HERE/slurm-down.sh"
fi

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    slurmctld slurmd slurm-client munge >/dev/null
fi

mkdir -p /etc/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm
rm -rf /var/lib/slurm/slurmctld/* /var/lib/slurm/slurmd/*

gres_types="" node_gres=""
rm -f /etc/slurm/gres.conf
if [ "$GPUS" -gt 0 ]; then
  # slurmd wants one distinct device file per GPU; symlinks to /dev/null with distinct names work.
  mkdir -p "$DIR/gpu"
  for i in $(seq 0 $((GPUS - 1))); do ln -sfn /dev/null "$DIR/gpu/nvidia$i"; done
  echo "NodeName=$NODE Name=gpu File=$DIR/gpu/nvidia[0-$((GPUS - 1))]" > /etc/slurm/gres.conf
  gres_types="GresTypes=gpu" node_gres="Gres=gpu:$GPUS"
fi

# No cgroups in containers: track processes by /proc, enforce --mem by polling RSS. No slurmdbd:
# Snakemake polls with squeue, so finished jobs must stay visible (MinJobAge).
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=anoloc-ci
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherParams=OverMemoryKill
JobAcctGatherFrequency=task=2
ReturnToService=2
SlurmctldPidFile=$DIR/slurmctld.daemon.pid
SlurmdPidFile=$DIR/slurmd.daemon.pid
SlurmdSpoolDir=/var/lib/slurm/slurmd
StateSaveLocation=/var/lib/slurm/slurmctld
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MinJobAge=600
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
$gres_types
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB $node_gres State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF

# munge: the Debian package ships a key; create one if it is missing.
mkdir -p /run/munge /var/log/munge /var/lib/munge /etc/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
if [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --force
  chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
fi
rm -f /run/munge/munged.pid
runuser -u munge -- /usr/sbin/munged
for _ in $(seq 50); do [ -s /run/munge/munged.pid ] && break; sleep 0.1; done
cp /run/munge/munged.pid "$DIR/munged.pid"
munge -n | unmunge >/dev/null

die() {
  echo "slurm-up.sh: $*" >&2
  tail -n 30 "$DIR"/slurmctld.out "$DIR"/slurmd.out "$DIR"/*.log >&2 2>/dev/null || true
  "$HERE/slurm-down.sh" >&2 || true
  exit 1
}
running() { kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }

/usr/sbin/slurmctld -D -i >"$DIR/slurmctld.out" 2>&1 &
echo $! >"$DIR/slurmctld.pid"
t=$SECONDS
until timeout 5 scontrol ping 2>/dev/null | grep -q UP; do
  running slurmctld || die "slurmctld exited"
  [ $((SECONDS - t)) -lt 30 ] || die "slurmctld does not answer"
  sleep 0.2
done
/usr/sbin/slurmd -D >"$DIR/slurmd.out" 2>&1 &
echo $! >"$DIR/slurmd.pid"
t=$SECONDS
while :; do
  state=$(timeout 5 sinfo -h -N -o '%t' 2>/dev/null | head -n 1 || true)
  case "$state" in
    idle | mix | alloc) break ;;
    inval | drain* | down*) [ $((SECONDS - t)) -lt 10 ] || die "node state '$state'" ;;
  esac
  running slurmd || die "slurmd exited"
  [ $((SECONDS - t)) -lt 30 ] || die "node not idle after 30 s (state '$state')"
  sleep 0.2
done
sinfo
echo "SLURM up: node $NODE, $CPUS CPUs, ${MEM_MB} MB, $GPUS fake GPU(s); PIDs in $DIR"
