#!/usr/bin/env bash
# The accelerator speed checks of docs/speed.md, on one GPU (or TPU) host, from the
# repository root with the project installed:
#
#   launch/speed_checks.sh OUT [FASHION_MNIST_DIR]
#
#   1. versions and the device (OUT/versions.txt);
#   2. ResNet-20's training step at batch 128 and 1024: examples/s, XLA's FLOPs per
#      step, model-FLOPs utilisation of the chip's bf16 peak (OUT/bench.log);
#   3. the MNIST-1D table, 8 rows x 5 seeds (40 runs, each row one vmapped program),
#      8 rows at a time on the one device, timed whole (OUT/mnist1d.log);
#   4. time-to-accuracy on Fashion-MNIST: ResNet-20 until test accuracy >= 94.0%,
#      seeds 0-4 one after another, each a fresh process (OUT/tta.log);
#      TTA_SEEDS="0 1" / "2 3 4" split it over several calls;
#   5. (STEPS=gru) MNIST-1D's bidirectional GRU step: autodiff of the scan (the
#      config's), the hand-written backward pass, and that with both directions in
#      one loop (RNNClassifier.cell_impl, fuse_directions; the GRU rows are most of
#      the table's time on a GPU) (OUT/gru.log).
# MNIST1D_DISPATCH / TTA_DISPATCH: training steps per dispatch (launch.train
# --steps_per_dispatch; default 1, as docs/speed.md's first figures were measured;
# 250 and 117 divide those runs' log, eval and checkpoint intervals).
# FASHION_MNIST_DIR holds the four IDX files (default: Debian's dataset-fashion-mnist).
set -uo pipefail
out=${1:?usage: launch/speed_checks.sh OUT [FASHION_MNIST_DIR]}
fashion=${2:-/usr/share/datasets/fashion-mnist}
py=${PYTHON:-python3}
steps=${STEPS:-"versions bench mnist1d tta"}
tta_root=${TTA_ROOT:-$out/tta}
mkdir -p "$out"
# Several processes share the one device (the table's workers): no process takes
# most of its memory up front.
export XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
now() { date +%s.%N; }
fashion_flags=(--config.dataset.manual_dir="$fashion")

for step in $steps; do
  t0=$(now)
  case $step in
    versions)
      { nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1
        $py -c 'import jax, flax, optax, orbax.checkpoint as o, sys; print(sys.version.split()[0], "jax", jax.__version__, "flax", flax.__version__, "optax", optax.__version__, "orbax", o.__version__); print(jax.devices())'
        nproc; } > "$out/versions.txt" 2>&1 ;;
    smoke)  # the install and the data path, before anything is timed
      timeout 300 $py -m launch.train --config=configs/fashion_mnist_resnet.py:runlocal \
          --workdir="$out/smoke" "${fashion_flags[@]}" > "$out/smoke.log" 2>&1 \
        || { tail -30 "$out/smoke.log"; echo "smoke: failed; nothing timed" >&2; exit 1; } ;;
    bench)
      for batch in 128 1024; do
        echo "== ResNet-20 (configs/fashion_mnist_resnet.py, bf16), batch $batch"
        timeout 150 $py -m launch.benchmark --config=configs/fashion_mnist_resnet.py --synthetic=28,28,1 \
            --config.batch_size=$batch --steps=100 --warmup=20 --repeats=3
      done > "$out/bench.log" 2>&1 ;;
    mnist1d)
      timeout 300 $py -m launch.reproduce mnist1d --seeds=5 --workers=8 --root="$out/mnist1d_runs" \
          --steps_per_dispatch="${MNIST1D_DISPATCH:-1}" \
          > "$out/mnist1d.log" 2>&1 ;;
    tta)
      for seed in ${TTA_SEEDS:-0 1 2 3 4}; do
        timeout 300 $py -m launch.time_to_accuracy --config=configs/fashion_mnist_resnet.py \
            --metric=test_accuracy --target=0.94 --first_seed=$seed --seeds=1 --root="$tta_root" \
            -- "${fashion_flags[@]}" --config.num_epochs=30 --config.eval_every_steps=468 \
            --config.checkpoint_every_steps=93600 --config.log_every_steps=468 \
            --steps_per_dispatch="${TTA_DISPATCH:-1}"
      done >> "$out/tta.log" 2>&1
      $py -m launch.time_to_accuracy --config=configs/fashion_mnist_resnet.py --target=0.94 \
          --root="$tta_root" --summarize >> "$out/tta.log" 2>&1 ;;
    gru)
      for variant in "scan False" "xla False" "xla True"; do
        set -- $variant
        echo "== configs/mnist1d.py:gru, model.cell_impl=$1, model.fuse_directions=$2"
        timeout 120 $py -m launch.benchmark --config=configs/mnist1d.py:gru \
            --config.model.cell_impl=$1 --config.model.fuse_directions=$2 \
            --steps=500 --warmup=50 --repeats=3
      done > "$out/gru.log" 2>&1 ;;
    *) echo "unknown step $step" >&2; exit 2 ;;
  esac
  rc=$?
  printf "%s: exit %d, %s s\n" "$step" $rc "$(awk "BEGIN{printf \"%.1f\", $(now) - $t0}")" | tee -a "$out/steps.txt"
done
