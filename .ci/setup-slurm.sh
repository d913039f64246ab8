#!/usr/bin/env bash
# A real single-node SLURM for tests/test_slurm.py (see ../shared/reference/local-slurm.md): Debian's
# slurm-wlm + munge, one node "$(hostname -s)" sized from `slurmd -C`, partitions main (default) and
# gpu, and two fake GPUs (gres on /dev/tty0-1: SLURM schedules them and sets CUDA_VISIBLE_DEVICES,
# no real GPU behind them). Installs the packages if missing and writes /etc/slurm/{slurm,gres}.conf.
# It starts nothing: the test fixture starts munged / slurmctld / slurmd and stops them by pid file.
# Needs root. Usage: bash .ci/setup-slurm.sh
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
    echo "setup-slurm: needs root" >&2
    exit 1
fi
if ! command -v slurmctld >/dev/null || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm slurm-client munge
fi

node=$(hostname -s)
# the node as slurmd sees it: CPUs and RealMemory must not exceed these
hw=$(slurmd -C | head -n 1)
cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$hw")
mem=$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$hw")
mem=$(( mem > 1024 ? mem - 512 : mem ))  # headroom, so the node is never drained for low memory

mkdir -p /etc/slurm /var/spool/slurmd /var/spool/slurmctld /var/log/slurm /run/munge
chown munge:munge /run/munge
if [ ! -s /etc/munge/munge.key ]; then
    if command -v mungekey >/dev/null; then mungekey --create --force; else create-munge-key -f; fi
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
fi
for tty in /dev/tty0 /dev/tty1; do
    [ -e "$tty" ] || mknod -m 600 "$tty" c 4 "${tty#/dev/tty}"
done

cat > /etc/slurm/slurm.conf <<CONF
# written by biodl .ci/setup-slurm.sh: a single-node test cluster (tests/test_slurm.py)
ClusterName=local
SlurmctldHost=$node
SlurmUser=root
AuthType=auth/munge
CryptoType=crypto/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmdSpoolDir=/var/spool/slurmd
StateSaveLocation=/var/spool/slurmctld
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
# no accounting database: Snakemake polls squeue, which forgets a job MinJobAge s after it ends
MinJobAge=600
GresTypes=gpu
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem Gres=gpu:fake:2 State=UNKNOWN
PartitionName=main Nodes=$node Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$node Default=NO MaxTime=INFINITE State=UP
CONF
echo "NodeName=$node Name=gpu Type=fake File=/dev/tty[0-1]" > /etc/slurm/gres.conf
echo "setup-slurm: /etc/slurm/slurm.conf for node $node, CPUs=$cpus RealMemory=$mem, 2 fake GPUs"
