#!/usr/bin/env bash
# Launch classicnets on a Cloud TPU VM (single host or pod slice), every gcloud
# command visible. Walk-through: docs/tpu_vm.md.
#
#   launch/tpu_vm.sh all --dry-run --name=cn-v4 --bucket=gs://my-bucket \
#       --config=configs/digits_lenet5.py -- --config.seed=1
#
# Subcommands:
#   create   create the TPU VM (skipped when `describe` finds it: reuse)
#   setup    copy this repository (a `git archive` of HEAD) to every worker,
#            create a venv there, `pip install -e ".[tf]"` (TensorFlow reads TFDS's
#            public datasets and gs://) and `pip install -U "jax[tpu]"`,
#            and mount the bucket with Cloud Storage FUSE at ~/gcs/BUCKET on every
#            worker (for browsing, or as a --workdir; see below)
#   run      start `python -m launch.train ... --jax_distributed` on every worker
#            in the background (nohup), one log per worker: logs/<name>.w<N>.log
#   tail     follow one worker's log (--worker=N, default 0)
#   ssh      open a shell on one worker (--worker=N), or run --command=CMD on it
#   stop     stop training on every worker (SIGTERM: checkpoint and exit; frees the TPU)
#   delete   delete the TPU VM (billing stops)
#   all      create, setup, run
#
# Flags (after the subcommand, --flag=value or --flag value):
#   --name=NAME        TPU VM name (required)
#   --zone=ZONE        default us-central2-b (where v4 lives)
#   --type=TYPE        accelerator type, default v4-32
#   --version=IMAGE    TPU software image, default tpu-ubuntu2204-base
#   --spot             create a Spot VM (cheaper, can be preempted at any time)
#   --preemptible      the legacy preemptible flag (prefer --spot)
#   --project=PROJECT  default: gcloud's configured project
#   --bucket=gs://B    TFDS_DATA_DIR=gs://B/tensorflow_datasets; runs in gs://B/runs
#   --config=FILE[:ARG]  experiment config (run/all), default configs/digits_lenet5.py
#   --workdir=DIR      workdir on the workers; default gs://B/runs/<name>/<config name>
#                      (see "Workdirs" below)
#   --worker=N         worker for tail/ssh (default 0)
#   --command=CMD      with ssh: run CMD on --worker (`all` for every worker)
#   --dry-run          print the commands, run nothing
#   -h, --help
#   -- ARGS            passed on to `python -m launch.train` (e.g. --config.seed=1)
#
# Workdirs: on a pod every worker must see the *same* checkpoint directory
# (orbax writes one shard set per process and process 0 merges them). The
# default workdir is therefore in the bucket, gs://B/runs/<name>/<config>: the
# trainer reads and writes gs:// itself (research/fileio.py). The FUSE mount
# works too (--workdir=~/gcs/B/runs/...); a local --workdir is only right on a
# 1-host type.
#
# Worker identity: a worker's number (= its jax.process_index() on a single
# slice) is the metadata attribute `agent-worker-number`, the value JAX's own
# TPU cluster detection reads; the hostname is the fallback.
#
# Hosts per slice (printed in the header): v2/v3/v4/v5p-N count TensorCores,
# 2 per chip and 4 chips per host, so N/8 hosts (v4-32: 16 chips, 4 hosts);
# v5litepod-N/v6e-N count chips: 1 host up to 8 chips, else 4 chips per host.

set -euo pipefail

PROG=launch/tpu_vm.sh
SUBCOMMANDS='create setup run tail ssh stop delete all'

usage() {
  printf '%s\n' \
    "usage: $PROG {create|setup|run|tail|ssh|stop|delete|all} --name=NAME [flags] [-- TRAIN_ARGS]" \
    '' \
    '  --name=NAME  --zone=ZONE (us-central2-b)  --type=TYPE (v4-32)' \
    '  --version=IMAGE (tpu-ubuntu2204-base)  --spot | --preemptible  --project=PROJECT' \
    '  --bucket=gs://BUCKET  --config=configs/NAME.py[:ARG]  --workdir=DIR' \
    '  --worker=N  --command=CMD  --dry-run  -h|--help' \
    '  -- ARGS      forwarded to python -m launch.train (e.g. -- --config.seed=1)' \
    '' \
    "See the header of $PROG and docs/tpu_vm.md."
}

die() {  # die MESSAGE: one error line, the usage, exit 2
  echo "error: $*" >&2
  usage >&2
  exit 2
}

# ---------------------------------------------------------------- arguments
CMD="${1:-}"
if [[ "$CMD" == -h || "$CMD" == --help ]]; then usage; exit 0; fi
[[ -n "$CMD" ]] || die "missing subcommand"
[[ " $SUBCOMMANDS " == *" $CMD "* ]] || die "unknown subcommand '$CMD'"
shift

NAME='' ZONE=us-central2-b TYPE=v4-32 VERSION=tpu-ubuntu2204-base
SPOT=0 PREEMPTIBLE=0 PROJECT='' BUCKET='' CONFIG=configs/digits_lenet5.py
WORKDIR='' WORKER=0 REMOTE_CMD='' DRY_RUN=0
TRAIN_ARGS=()

while (($#)); do
  arg="$1"; shift
  case "$arg" in
    --) TRAIN_ARGS=("$@"); break ;;
    -h|--help) usage; exit 0 ;;
    --dry-run) DRY_RUN=1; continue ;;
    --spot) SPOT=1; continue ;;
    --preemptible) PREEMPTIBLE=1; continue ;;
  esac
  case "$arg" in
    --*=*) key="${arg%%=*}"; val="${arg#*=}" ;;
    --name|--zone|--type|--version|--project|--bucket|--config|--workdir|--worker|--command)
      (($#)) || die "$arg needs a value"
      key="$arg"; val="$1"; shift ;;
    *) die "unknown argument '$arg'" ;;
  esac
  case "$key" in
    --name) NAME="$val" ;;
    --zone) ZONE="$val" ;;
    --type) TYPE="$val" ;;
    --version) VERSION="$val" ;;
    --project) PROJECT="$val" ;;
    --bucket) BUCKET="$val" ;;
    --config) CONFIG="$val" ;;
    --workdir) WORKDIR="$val" ;;
    --worker) WORKER="$val" ;;
    --command) REMOTE_CMD="$val" ;;
    *) die "unknown flag '$key'" ;;
  esac
done

[[ -n "$NAME" ]] || die "--name=NAME is required (the TPU VM's name)"
[[ "$NAME" =~ ^[a-z]([-a-z0-9]*[a-z0-9])?$ ]] \
  || die "--name='$NAME': use lowercase letters, digits and dashes, starting with a letter"
((SPOT && PREEMPTIBLE)) && die "--spot and --preemptible exclude each other"
[[ "$WORKER" =~ ^([0-9]+|all)$ ]] || die "--worker='$WORKER': a number (or all, with ssh)"
[[ "$WORKER" != all || ("$CMD" == ssh && -n "$REMOTE_CMD") ]] \
  || die "--worker=all only with ssh --command=CMD"
if [[ -n "$BUCKET" ]]; then
  [[ "$BUCKET" =~ ^gs://[a-z0-9][-_.a-z0-9]*/?$ ]] \
    || die "--bucket='$BUCKET': expected gs://BUCKET_NAME"
  BUCKET="${BUCKET%/}"
fi
case "$CMD" in
  run|all)
    [[ -n "$BUCKET" ]] || die "$CMD needs --bucket=gs://BUCKET (TFDS data and the workdir live there)"
    [[ -f "${CONFIG%%:*}" ]] || die "--config: ${CONFIG%%:*} not found (run from the repository root)" ;;
  setup)
    [[ -n "$BUCKET" ]] || die "setup needs --bucket=gs://BUCKET (mounted on every worker)" ;;
esac

# ---------------------------------------------------------------- derived
BUCKET_NAME="${BUCKET#gs://}"
REMOTE_DIR=classicnets                  # on each worker, relative to ~
MOUNT_DIR="gcs/$BUCKET_NAME"            # the bucket's FUSE mount, relative to ~
CONFIG_STEM="${CONFIG%%:*}"; CONFIG_STEM="${CONFIG_STEM##*/}"; CONFIG_STEM="${CONFIG_STEM%.py}"
if [[ -z "$WORKDIR" ]]; then
  WORKDIR="gs://$BUCKET_NAME/runs/$NAME/$CONFIG_STEM"
  WORKDIR_SHOWN="$WORKDIR (shared by every worker)"
elif [[ "$WORKDIR" == gs://* ]]; then
  [[ "$WORKDIR" =~ ^gs://[a-z0-9][-_.a-z0-9]*(/[A-Za-z0-9_.=-]+)*/?$ ]] \
    || die "--workdir=$WORKDIR: use gs://BUCKET/PATH with letters, digits and _ . = - in PATH"
  WORKDIR_SHOWN="$WORKDIR (shared by every worker)"
else
  # shellcheck disable=SC2088  # a literal ~/ from the user, made $HOME/ for the worker
  [[ "$WORKDIR" == "~/"* ]] && WORKDIR="\$HOME/${WORKDIR#\~/}"
  [[ "$WORKDIR" =~ ^(\$HOME/)?[A-Za-z0-9_./-]+$ ]] \
    || die "--workdir=$WORKDIR: use letters, digits and _ . / - (optionally after ~/)"
  WORKDIR_SHOWN="$WORKDIR (must be the same directory on every worker: a shared file system)"
fi
LOG="logs/$NAME.w\$W.log"

hosts_for_type() {  # hosts_for_type TYPE: number of TPU VM workers, or '?'
  local family="${1%-*}" n="${1##*-}"
  [[ "$n" =~ ^[0-9]+$ ]] || { echo '?'; return; }
  case "$family" in
    v2|v3|v4|v5p) echo $(((n + 7) / 8)) ;;             # N TensorCores, 8 per host
    v5litepod|v5e|v6e) ((n <= 8)) && echo 1 || echo $((n / 4)) ;;  # N chips
    *) echo '?' ;;
  esac
}
HOSTS="$(hosts_for_type "$TYPE")"

# ---------------------------------------------------------------- execution
GCLOUD_MISSING=0
if ((!DRY_RUN)) && ! command -v gcloud >/dev/null 2>&1; then
  GCLOUD_MISSING=1
fi

quote() {  # quote WORD: WORD as the shell reads it back; --flag=VALUE quotes VALUE only
  local w="$1" safe='^[A-Za-z0-9_@%+=:,./-]+$'
  if [[ "$w" =~ $safe ]]; then
    printf '%s' "$w"
  elif [[ "$w" =~ ^(--[a-z][-a-z0-9._]*=)(.*)$ ]]; then
    printf '%s' "${BASH_REMATCH[1]}"; quote "${BASH_REMATCH[2]}"
  else
    printf "'%s'" "${w//\'/\'\\\'\'}"
  fi
}

show() {  # show ARGV...: the command as one copy-pasteable line, after '+ '
  local out='+' a
  for a in "$@"; do out+=" $(quote "$a")"; done
  printf '%s\n' "$out"
}

note() { printf '# %s\n' "$*"; }

run_cmd() {  # run_cmd ARGV...: echo it, then run it unless dry-run / no gcloud
  show "$@"
  if ((DRY_RUN || GCLOUD_MISSING)); then return 0; fi
  "$@"
}

tpu() {  # tpu SUBCOMMAND ARGS...: gcloud compute tpus tpu-vm ... --zone [--project]
  local sub="$1"; shift
  local base=(gcloud compute tpus tpu-vm "$sub" "$@" "--zone=$ZONE")
  [[ -n "$PROJECT" ]] && base+=("--project=$PROJECT")
  run_cmd "${base[@]}"
}

header() {
  note "TPU VM $NAME: $TYPE in $ZONE, image $VERSION$( ((SPOT)) && echo ', spot')$( ((PREEMPTIBLE)) && echo ', preemptible')"
  note "expected hosts (workers) for $TYPE: $HOSTS; one training process per host"
  if [[ "$CMD" == run || "$CMD" == all ]]; then
    note "TFDS_DATA_DIR=$BUCKET/tensorflow_datasets; workdir $WORKDIR_SHOWN"
  fi
  if ((GCLOUD_MISSING)); then
    echo "gcloud not found; install the Google Cloud SDK (https://cloud.google.com/sdk/docs/install)," \
         "then run 'gcloud auth login' and 'gcloud config set project PROJECT'. Commands that would run:"
  fi
}

# ---------------------------------------------------------------- steps
do_create() {
  local create=(create "$NAME" "--accelerator-type=$TYPE" "--version=$VERSION")
  ((SPOT)) && create+=(--spot)
  ((PREEMPTIBLE)) && create+=(--preemptible)
  if ((DRY_RUN || GCLOUD_MISSING)); then
    note "reuse: when describe succeeds the VM exists and create is skipped"
    tpu describe "$NAME" --format=value\(state\)
    tpu "${create[@]}"
    return
  fi
  show gcloud compute tpus tpu-vm describe "$NAME" --format=value\(state\) "--zone=$ZONE" \
    ${PROJECT:+"--project=$PROJECT"}
  local state
  if state="$(gcloud compute tpus tpu-vm describe "$NAME" --format='value(state)' "--zone=$ZONE" \
      ${PROJECT:+"--project=$PROJECT"} 2>/dev/null)"; then
    note "$NAME exists (state $state): reusing it, create skipped"
  else
    tpu "${create[@]}"
  fi
}

do_setup() {
  local tarball="/tmp/classicnets-$NAME.tar.gz"
  note "copy HEAD of this repository (commit your changes first) to every worker"
  run_cmd git archive --format=tar.gz --prefix="$REMOTE_DIR/" -o "$tarball" HEAD
  tpu scp "$tarball" "$NAME:" --worker=all
  local install
  # Unpacks over an earlier copy (keeps .venv and logs/). jax[tpu] = jax + libtpu
  # from PyPI, at the jax version pyproject.toml's pin resolved to.
  install="set -e; tar xzf ${tarball##*/} && cd $REMOTE_DIR"
  install+=" && (python3 -m venv .venv || (sudo apt-get update -qq && sudo apt-get install -y -qq python3-venv && python3 -m venv .venv))"
  install+=" && . .venv/bin/activate && pip install -q -U pip && pip install -q -e \".[tf]\""
  install+=" && pip install -q \"jax[tpu]==\$(python -c \"import jax; print(jax.__version__)\")\""
  install+=" && python -c \"import jax; print(jax.process_index(), jax.local_device_count(), jax.devices()[0].platform)\""
  note "on every worker: unpack, venv, pip install -e \".[tf]\" and jax[tpu]"
  tpu ssh "$NAME" --worker=all "--command=$install"
  local mount
  mount="set -e; if ! command -v gcsfuse >/dev/null; then"
  mount+=" curl -fsSL https://packages.cloud.google.com/apt/doc/apt-key.gpg | sudo tee /usr/share/keyrings/cloud.google.asc >/dev/null"
  mount+=" && echo \"deb [signed-by=/usr/share/keyrings/cloud.google.asc] https://packages.cloud.google.com/apt gcsfuse-\$(lsb_release -cs) main\" | sudo tee /etc/apt/sources.list.d/gcsfuse.list >/dev/null"
  mount+=" && sudo apt-get update -qq && sudo apt-get install -y -qq gcsfuse; fi"
  mount+="; mkdir -p ~/$MOUNT_DIR && (mountpoint -q ~/$MOUNT_DIR || gcsfuse --implicit-dirs --rename-dir-limit=100000 $BUCKET_NAME ~/$MOUNT_DIR)"
  note "on every worker: mount $BUCKET at ~/$MOUNT_DIR (Cloud Storage FUSE; optional as a --workdir)"
  tpu ssh "$NAME" --worker=all "--command=$mount"
}

train_command() {  # the shell line each worker runs
  local train=(python -m launch.train "--config=$CONFIG" "--workdir=$WORKDIR" --jax_distributed
               "${TRAIN_ARGS[@]}")
  local quoted='' a
  for a in "${train[@]}"; do
    if [[ "$a" == --workdir=* ]]; then
      quoted+=" $a"   # checked above; a leading \$HOME expands on the worker
    else
      quoted+=" $(quote "$a")"
    fi
  done
  # shellcheck disable=SC2016  # expands on the worker, not here
  local w='W=$(curl -sf -H Metadata-Flavor:Google http://metadata.google.internal/computeMetadata/v1/instance/attributes/agent-worker-number || hostname)'
  printf '%s' "cd $REMOTE_DIR && . .venv/bin/activate && mkdir -p logs && $w"
  # Only python goes to the background, all its fds redirected, so ssh returns.
  printf '%s' " && { TFDS_DATA_DIR=$BUCKET/tensorflow_datasets nohup${quoted} > $LOG 2>&1 < /dev/null & }"
  printf '%s' " && echo \"worker \$W: started pid \$!, log ~/$REMOTE_DIR/$LOG\""
}

do_run() {
  note "on every worker: train in the background, log to ~/$REMOTE_DIR/$LOG (W = worker number)"
  tpu ssh "$NAME" --worker=all "--command=$(train_command)"
}

do_tail() {
  tpu ssh "$NAME" "--worker=$WORKER" "--command=tail -n 100 -F ~/$REMOTE_DIR/logs/$NAME.w$WORKER.log"
}

do_ssh() {
  if [[ -n "$REMOTE_CMD" ]]; then
    tpu ssh "$NAME" "--worker=$WORKER" "--command=$REMOTE_CMD"
  else
    tpu ssh "$NAME" "--worker=$WORKER"
  fi
}

do_stop() {
  # SIGTERM first: the trainer treats it as a preemption notice (every process
  # saves one agreed step, then exits); SIGKILL whatever is left after 120 s.
  # [p]ython: the pattern must not match this very command line.
  local pat='[p]ython -m launch.train'
  tpu ssh "$NAME" --worker=all "--command=pkill -f \"$pat\"; for i in \$(seq 120); do pgrep -f \"$pat\" >/dev/null || exit 0; sleep 1; done; pkill -9 -f \"$pat\"; true"
}

do_delete() {
  tpu delete "$NAME" --quiet
}

header
case "$CMD" in
  create) do_create ;;
  setup) do_setup ;;
  run) do_run ;;
  tail) do_tail ;;
  ssh) do_ssh ;;
  stop) do_stop ;;
  delete) do_delete ;;
  all)
    do_create
    do_setup
    do_run
    note "then: $PROG tail --name=$NAME --zone=$ZONE --worker=0; when done: $PROG delete --name=$NAME --zone=$ZONE"
    ;;
esac

if ((GCLOUD_MISSING)); then
  exit 1
fi
