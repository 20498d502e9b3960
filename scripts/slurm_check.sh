#!/usr/bin/env bash
# Run the docs' Slurm job array (scripts/slurm/audit.sbatch, then the merge in
# scripts/slurm/merge.sbatch as a dependent job) on a one-node Slurm cluster
# made here from Debian's packages, and check that the merged outputs equal an
# unsharded `proctor batch` of the same recordings.
#
#   bash scripts/slurm_check.sh [PROCTOR]     (default target/debug/proctor: build it first)
#
# It installs munge, slurmctld, slurmd and slurm-client when missing, then
# starts munged, slurmctld and slurmd by hand (no systemd) from a configuration
# in a temporary directory, with their own ports, socket and key: the machine's
# own Slurm or munge setup is neither used nor changed. 8 fixture clips are
# audited as a 4-task array; one task is cancelled while it analyses its first
# recording and then requeued, so its --resume has to finish what the cancel
# left. The daemons are stopped however the check ends. scripts/test.sh runs it
# after `cargo test`, so CI does.
#
# It needs root or passwordless sudo. Without, it prints
# `SKIPPED: slurm_check: <why>` (also appended to $PROCTOR_SKIP_LOG, as the
# tests do) and exits 0; with PROCTOR_NO_SKIP=1 it fails instead.
set -euo pipefail
given=${1:+$(realpath -m -- "$1")} # a path given from where the caller is
cd "$(dirname "$0")/.."
repo=$PWD
shards=4
# VP8, VP9, AV1, H.264 and variable frame rate, and three clips with events
# (a second face, no face while someone speaks, a gap in the audio), so the
# events dataset compared is not empty
clips=(vp8_opus.webm vp9_opus.webm av1_opus.webm h264_noaudio.mp4 vfr.webm
  still_second_face.webm speech_noface.webm audio_gap.webm)

t0=$SECONDS
log() { printf '[%3ds] slurm check: %s\n' "$((SECONDS - t0))" "$*"; }
die() {
  log "FAILED: $*" >&2
  exit 1
}
skip() {
  if [ "${PROCTOR_NO_SKIP:-}" = 1 ]; then
    die "cannot run ($1), and PROCTOR_NO_SKIP=1 forbids skipping"
  fi
  echo "SKIPPED: slurm_check: $1"
  if [ -n "${PROCTOR_SKIP_LOG:-}" ]; then echo "SKIPPED: slurm_check: $1" >>"$PROCTOR_SKIP_LOG"; fi
  exit 0
}

proctor=${given:-target/debug/proctor}
[ -x "$proctor" ] || die "no proctor binary at '$proctor': build it first (cargo build --locked --bin proctor) or give its path"
proctor=$(realpath "$proctor")
for c in "${clips[@]}"; do
  [ -f "fixtures/$c" ] || die "fixtures/$c is missing"
done

if [ "$(id -u)" -eq 0 ]; then
  sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo="sudo -n"
else
  skip "needs root or passwordless sudo (it installs Slurm and runs its daemons)"
fi

# --- packages -----------------------------------------------------------------
packages=(munge slurmctld slurmd slurm-client)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  command -v apt-get >/dev/null 2>&1 || skip "needs ${missing[*]}, and this is not a Debian system (no apt-get)"
  log "installing ${missing[*]}"
  $sudo apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    -o DPkg::Lock::Timeout=600 "${missing[@]}"
fi
export PATH="$PATH:/usr/sbin"
for c in munged mungekey munge unmunge slurmctld slurmd sbatch squeue scontrol scancel sinfo; do
  command -v "$c" >/dev/null 2>&1 || die "$c not found after installing ${packages[*]}"
done

# --- a one-node cluster in a temporary directory -------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/proctor-slurm.XXXXXX")
# munged wants every directory above its socket searchable by all
chmod 755 "$tmp"
jobids=()
cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM HUP
  if ((${#jobids[@]})); then
    scancel "${jobids[@]}" 2>/dev/null
    for _ in $(seq 50); do
      [ -z "$(squeue -h -j "$(IFS=,; echo "${jobids[*]}")" -t PD,R,CG,S 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
  local name pidfile pid
  for name in slurmd slurmctld munged; do
    case $name in
      munged) pidfile=$tmp/munge/munged.pid ;;
      *) pidfile=$tmp/slurm/$name.pid ;;
    esac
    pid=$($sudo cat "$pidfile" 2>/dev/null) || continue
    [ -n "$pid" ] || continue
    $sudo kill "$pid" 2>/dev/null || continue
    for _ in $(seq 50); do
      $sudo kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    if $sudo kill -0 "$pid" 2>/dev/null; then $sudo kill -9 "$pid"; fi
  done
  if [ "$rc" -eq 0 ]; then
    $sudo rm -rf "$tmp"
  else
    echo "slurm check: kept $tmp for a look; the daemons' logs end with:" >&2
    for f in "$tmp/slurm/slurmctld.log" "$tmp/slurm/slurmd.log" "$tmp/munge/munged.log"; do
      echo "--- $f" >&2
      $sudo tail -n 15 "$f" >&2
    done
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

$sudo install -d -m 700 "$tmp/munge"
$sudo install -d -m 755 "$tmp/run" "$tmp/slurm" "$tmp/slurm/state" "$tmp/slurm/spool"
mkdir -p "$tmp/archive" "$tmp/results" "$tmp/jobs"

node=$(hostname -s)
cpus=$(nproc)
mem_mb=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024))
cpus_per_task=$(sed -n 's/^#SBATCH --cpus-per-task=\([0-9]*\)$/\1/p' scripts/slurm/audit.sbatch)
[ -n "$cpus_per_task" ] || die "no '#SBATCH --cpus-per-task=N' line in scripts/slurm/audit.sbatch"
((cpus >= cpus_per_task)) || die "this machine has $cpus CPUs; audit.sbatch asks for $cpus_per_task per task"
# small, under what the machine has (slurmd refuses a node that has less), and
# enough for the --mem=2G of audit.sbatch
real_mb=$((mem_mb * 9 / 10 < 4096 ? mem_mb * 9 / 10 : 4096))
((real_mb >= 2048)) || die "this machine has $mem_mb MB of memory; audit.sbatch asks for 2 GB per task"
read -r ctld_port slurmd_port < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))') || die "python3 could not find two free ports"

conf=$tmp/slurm.conf
cat >"$conf" <<EOF
# a one-node cluster for scripts/slurm_check.sh: no cgroups, no accounting
ClusterName=proctorcheck
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$tmp/run/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$tmp/slurm/state
SlurmdSpoolDir=$tmp/slurm/spool
SlurmctldPidFile=$tmp/slurm/slurmctld.pid
SlurmdPidFile=$tmp/slurm/slurmd.pid
SlurmctldLogFile=$tmp/slurm/slurmctld.log
SlurmdLogFile=$tmp/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
# keep finished jobs listed by squeue until the check is over
MinJobAge=3600
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$real_mb State=UNKNOWN
PartitionName=check Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$conf

$sudo mungekey --create --keyfile="$tmp/munge/munge.key" 2>/dev/null ||
  $sudo sh -c "umask 077 && dd if=/dev/urandom of='$tmp/munge/munge.key' bs=1024 count=1 status=none"
$sudo chmod 600 "$tmp/munge/munge.key"
$sudo munged --key-file="$tmp/munge/munge.key" --socket="$tmp/run/munge.socket" \
  --pid-file="$tmp/munge/munged.pid" --log-file="$tmp/munge/munged.log" --seed-file="$tmp/munge/munged.seed" ||
  die "munged did not start"
munge -n -S "$tmp/run/munge.socket" | unmunge -S "$tmp/run/munge.socket" >/dev/null || die "munge does not work"
$sudo slurmctld -f "$conf" || die "slurmctld did not start"
$sudo slurmd -f "$conf" -N "$node" || die "slurmd did not start"
state=""
for _ in $(seq 150); do
  state=$(sinfo -h -n "$node" -o %T 2>/dev/null || true)
  [ "$state" = idle ] && break
  sleep 0.2
done
[ "$state" = idle ] || die "node $node is '${state:-not known}', not idle: $(scontrol show node "$node" 2>&1 | grep -i reason)"
log "a one-node cluster is up: $(sinfo -V), node $node ($cpus CPUs, RealMemory=$real_mb MB), munge and Slurm on their own socket and ports"

# --- the archive, and the unsharded run to compare with ------------------------
for c in "${clips[@]}"; do
  cp "fixtures/$c" "$tmp/archive/$c"
done
log "archive: ${#clips[@]} fixture clips in $tmp/archive; proctor is $proctor"
# every run of the check uses this very binary, even if it is rebuilt meanwhile
ln "$proctor" "$tmp/proctor" 2>/dev/null || cp "$proctor" "$tmp/proctor"
proctor=$tmp/proctor
s=$SECONDS
"$proctor" batch -q "$tmp/archive" -o "$tmp/whole" --threads "$cpus_per_task" || die "the unsharded run failed ($?)"
log "unsharded run: $("$proctor" --version) analysed them in $((SECONDS - s)) s"

# --- the job array --------------------------------------------------------------
export PROCTOR_ARCHIVE=$tmp/archive PROCTOR_RESULTS=$tmp/results PROCTOR_SHARDS=$shards PROCTOR_BIN=$proctor
jobid=$(cd "$tmp/jobs" && sbatch --parsable --array="1-$shards" "$repo/scripts/slurm/audit.sbatch")
jobid=${jobid%%;*}
jobids+=("$jobid")
log "submitted: PROCTOR_SHARDS=$shards sbatch --array=1-$shards scripts/slurm/audit.sbatch -> job $jobid"
out() { echo "$tmp/jobs/proctor-audit-${jobid}_$1.out"; }
# the merge, at once, as the docs say: it waits for every task of the array
submit_merge() {
  mjob=$(cd "$tmp/jobs" && sbatch --parsable --dependency="afterany:$jobid" "$repo/scripts/slurm/merge.sbatch")
  mjob=${mjob%%;*}
  jobids+=("$mjob")
  mstate=""
  log "submitted: sbatch --dependency=afterany:$jobid scripts/slurm/merge.sbatch -> job $mjob"
}
merge_state() {
  local st
  st=$(squeue -h -j "$mjob" -t all -o '%T (%r)' 2>/dev/null | sed 's/ (None)$//') || return 0
  if [ -n "$st" ] && [ "$st" != "$mstate" ]; then
    log "  merge job $mjob: ${mstate:-submitted} -> $st"
    mstate=$st
  fi
}
submit_merge

declare -A seen=() tried=()
cancelled=""   # the task cancelled and not yet requeued
midrun=""      # a task cancelled with recordings of its shard left to do
deadline=$((SECONDS + 600))
while :; do
  ((SECONDS < deadline)) || die "the array did not finish in 10 minutes"
  states=$(squeue -h -j "$jobid" -t all -r -o '%K %T') || { sleep 0.5; continue; }
  running=() done_count=0
  while read -r k st; do
    [ -n "$k" ] || continue
    if [ "${seen[$k]:-}" != "$st" ]; then
      log "  task ${jobid}_$k: ${seen[$k]:-submitted} -> $st"
      seen[$k]=$st
    fi
    case $st in
      RUNNING) running+=("$k") ;;
      COMPLETED | FAILED | CANCELLED | TIMEOUT | OUT_OF_MEMORY | NODE_FAIL | PREEMPTED | BOOT_FAIL | DEADLINE) done_count=$((done_count + 1)) ;;
    esac
  done <<<"$states"
  merge_state

  if [ -z "$cancelled" ] && [ -z "$midrun" ]; then
    # cancel a task while its first recording is under way: the lock of a
    # recording is there and nothing is finished yet
    for k in "${running[@]}"; do
      [ -z "${tried[$k]:-}" ] || continue
      d=$tmp/results/shard-$k
      if compgen -G "$d/recordings/.*.lock" >/dev/null && ! [ -s "$d/manifest.jsonl" ]; then
        under_way=$(basename "$(compgen -G "$d/recordings/.*.lock" | head -1)" .lock)
        log "cancelling task ${jobid}_$k while it analyses ${under_way#.}, the first recording of shard $k: scancel ${jobid}_$k"
        tried[$k]=1
        if scancel "${jobid}_$k"; then cancelled=$k; else log "  scancel failed: the task had ended"; fi
        break
      fi
    done
  elif [ -n "$cancelled" ]; then
    k=$cancelled
    case ${seen[$k]:-} in
      CANCELLED)
        cancelled=""
        # what the shard's manifest holds now must stay as it is: --resume
        # appends the rest and redoes nothing of it
        cp "$tmp/results/shard-$k/manifest.jsonl" "$tmp/manifest-at-cancel" 2>/dev/null || : >"$tmp/manifest-at-cancel"
        finished=$(grep -c . "$tmp/manifest-at-cancel" || true)
        line=$(grep -o 'interrupted after [0-9]* of [0-9]* recordings' "$(out "$k")" | tail -1 || true)
        log "  task ${jobid}_$k stopped with $finished recording(s) of its shard in its manifest; proctor said '${line:-nothing about it}'"
        if [[ $line =~ after\ ([0-9]+)\ of\ ([0-9]+) ]] && ((BASH_REMATCH[1] >= BASH_REMATCH[2])); then
          log "  nothing was left for the requeued task to do; another task will be cancelled"
        else
          midrun=$k
        fi
        log "requeueing it: scontrol requeue ${jobid}_$k (and StartTime=now: a requeued job otherwise waits 2 minutes)"
        scontrol requeue "${jobid}_$k"
        scontrol update JobId="${jobid}_$k" StartTime=now
        sleep 0.1
        continue # its state is still CANCELLED in this round
        ;;
      COMPLETED | FAILED)
        cancelled=""
        log "  task ${jobid}_$k ended ${seen[$k]} before the cancel took hold; another task will be cancelled"
        ;;
    esac
  fi

  if [ "$done_count" -eq "$shards" ] && [ -z "$cancelled" ]; then break; fi
  sleep 0.1
done
[ -n "$midrun" ] || die "no task could be cancelled while it had recordings left (no task was seen holding the .<id>.lock of a recording with nothing finished yet)"

failed=0
for ((k = 1; k <= shards; k++)); do
  log "task ${jobid}_$k ended ${seen[$k]}; its log ($(basename "$(out "$k")")):"
  sed 's/^/      /' "$(out "$k")"
  [ "${seen[$k]}" = COMPLETED ] || failed=1
done
((failed == 0)) || die "not every task of the array completed"
# the requeued task kept the lines of the recordings finished before the
# cancel (a recording analysed again would have a second line) and added the rest
manifest=$tmp/results/shard-$midrun/manifest.jsonl
before=$(grep -c . "$tmp/manifest-at-cancel" || true)
after=$(grep -c . "$manifest")
ids=$(grep -o '^{"id":"[^"]*"' "$manifest" | sort | uniq -d || true)
if [ "$(head -n "$before" "$manifest")" != "$(cat "$tmp/manifest-at-cancel")" ] || [ -n "$ids" ]; then
  die "the requeued task ${jobid}_$midrun did not resume: its manifest does not keep the $before line(s) written before the cancel, or has a recording twice"
fi
((before >= 1 && after > before)) ||
  die "the cancel of task ${jobid}_$midrun did not land mid-run ($before of $after recordings finished before it)"
log "the requeued task ${jobid}_$midrun resumed: the $before recording(s) finished before the cancel were skipped, the other $((after - before)) analysed"

# --- the merge, which waited for them ---------------------------------------------
wait_merge() {
  while :; do
    ((SECONDS < deadline)) || die "the merge did not finish in time"
    merge_state
    case $mstate in "" | PENDING* | RUNNING* | COMPLETING* | CONFIGURING*) sleep 0.2 ;; *) break ;; esac
  done
}
wait_merge
# afterany holds while a task is pending again, so a merge that started before
# the requeued task ended could only come from a cancel after every other task
# had ended: then it is submitted again, as docs/batch.md tells users to do
started=$(squeue -h -j "$mjob" -t all -o %S)
ended=$(squeue -h -j "$jobid" -t all -r -o %e | sort | tail -n 1)
if [[ $started < $ended ]]; then
  log "the merge started at $started, before the last task ended at $ended: submitting it again"
  submit_merge
  wait_merge
  started=$(squeue -h -j "$mjob" -t all -o %S)
fi
log "the merge started at $started, after the last task of the array ended at $ended; its log:"
sed 's/^/      /' "$tmp/jobs/proctor-merge-$mjob.out"
[ "$mstate" = COMPLETED ] || die "the merge job ended $mstate"

# --- the comparison ---------------------------------------------------------------
# As tests/batch.rs (shards_merged_equal_the_unsharded_run) does, but without a
# Parquet reader (python3 has none here): summary.parquet is written from the
# rows of manifest.jsonl, by the same function in the merge and in a run
# (batch::write_archive), so the rows are compared there, all fields but
# elapsed_s; both summary.parquet files must be whole Parquet files; the events
# partitions the merge copied from the shards must be byte for byte the ones of
# the unsharded run.
python3 - "$tmp/results/all" "$tmp/whole" "${#clips[@]}" <<'PY' || die "the merged outputs differ from the unsharded run"
import json, os, sys

merged, whole, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
problems = []

def rows(d):
    out = {}
    with open(os.path.join(d, "manifest.jsonl")) as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                r.pop("elapsed_s", None)
                out[r["id"]] = r  # the last line of an id wins, as in proctor
    return out

m, w = rows(merged), rows(whole)
if len(w) != expected:
    problems.append(f"the unsharded run has {len(w)} rows, not {expected}")
if sorted(m) != sorted(w):
    problems.append(f"recordings differ: merged {sorted(m)}, unsharded {sorted(w)}")
for rid in sorted(set(m) & set(w)):
    diff = [k for k in sorted(set(m[rid]) | set(w[rid])) if m[rid].get(k) != w[rid].get(k)]
    if diff:
        problems.append(f"{rid}: {', '.join(f'{k} {m[rid].get(k)!r} != {w[rid].get(k)!r}' for k in diff)}")
    if w[rid]["status"] != "ok":
        problems.append(f"{rid}: status {w[rid]['status']} ({w[rid].get('error')})")

for d in (merged, whole):
    with open(os.path.join(d, "summary.parquet"), "rb") as f:
        data = f.read()
    if len(data) < 12 or data[:4] != b"PAR1" or data[-4:] != b"PAR1":
        problems.append(f"{d}/summary.parquet is not a whole Parquet file")

def parts(d):
    base = os.path.join(d, "events")
    return sorted(os.path.relpath(os.path.join(p, f), base) for p, _, fs in os.walk(base) for f in fs)

pm, pw = parts(merged), parts(whole)
if pm != pw:
    problems.append(f"event partitions differ: merged {pm}, unsharded {pw}")
for p in sorted(set(pm) & set(pw)):
    with open(os.path.join(merged, "events", p), "rb") as a, open(os.path.join(whole, "events", p), "rb") as b:
        if a.read() != b.read():
            problems.append(f"events/{p} differs")

for p in problems:
    print(f"  mismatch: {p}")
if problems:
    sys.exit(1)
events = sum(r["events"] for r in w.values())
print(f"  {len(m)} summary rows equal (every field but elapsed_s), {len(pm)} event partitions ({events} events) byte for byte equal")
PY
log "merged output equals the unsharded run ($((SECONDS - t0)) s in all)"
