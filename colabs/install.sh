#!/usr/bin/env bash
# Installs this checkout into a Colab runtime (the notebooks' first cell runs it).
# The runtime keeps its own JAX (built for its GPU or TPU) and TensorFlow: the project
# goes in without dependencies, then only the requirements the runtime lacks
# (launch/colab_requirements.py). Where no JAX is installed at all, JAX comes with
# the plugin for the accelerator found. Argument: the notebook kernel's Python (default:
# python). CLASSICNETS_PIP_ARGS adds pip arguments (the tests pass --dry-run).
set -euo pipefail
cd "$(dirname "$0")/.."
py="${1:-python}"
pip_install() { "$py" -m pip install -q ${CLASSICNETS_PIP_ARGS:-} "$@"; }
if ! "$py" -c 'import jax' 2>/dev/null; then
  if [[ -e /dev/nvidia0 ]]; then
    pip_install 'jax[cuda12]>=0.10.2,<0.11'
  elif [[ -n "${COLAB_TPU_ADDR:-}" || -e /dev/accel0 || -e /dev/vfio/0 ]]; then
    pip_install 'jax[tpu]>=0.10.2,<0.11'
  fi
fi
pip_install --no-deps --no-build-isolation -e .
mapfile -t missing < <("$py" -m launch.colab_requirements | sed "/^$/d")
if (( ${#missing[@]} )); then
  echo "Installing what this runtime lacks: ${missing[*]}"
  pip_install "${missing[@]}"
fi
"$py" -c 'import jax; print("JAX", jax.__version__, "on", jax.devices())'
