#!/usr/bin/env bash
# Installs this checkout into a Colab runtime (the notebooks' first cell runs it):
# the project and its pinned dependencies, then JAX's plugin for the runtime's
# accelerator at the same JAX version (pip would otherwise leave a CPU-only jaxlib).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -e .
jax_version="$(python -c 'import jax; print(jax.__version__)')"
if [[ -e /dev/nvidia0 ]]; then
  python -m pip install -q "jax[cuda12]==${jax_version}"
elif [[ -n "${COLAB_TPU_ADDR:-}" || -e /dev/accel0 || -e /dev/vfio/0 ]]; then
  python -m pip install -q "jax[tpu]==${jax_version}"
fi
python -c 'import jax; print("JAX", jax.__version__, "on", jax.devices())'
