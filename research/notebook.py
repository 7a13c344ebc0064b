"""What the notebooks in colabs/ share after their install cell.

`setup()` makes the repository root the working directory (so `configs/...`
paths resolve as on the command line) and reads the two switches the tests
set: CLASSICNETS_SMOKE=1 (small data, few steps) and CLASSICNETS_RUNS (where
workdirs go). `show` displays the PNGs runs write.
"""

from __future__ import annotations

import os

def colab_checkout() -> str:
  """Where the notebooks' first cell clones the project in Colab."""
  return os.environ.get('CLASSICNETS_CHECKOUT', '/content/classicnets')


def repository_root(start: str | None = None) -> str:
  """The nearest directory holding configs/ and research/: the start directory
  (default: the working directory) or one above it, else the Colab checkout."""
  here = os.path.abspath(start or os.getcwd())
  for candidate in (here, os.path.dirname(here), colab_checkout()):
    if all(os.path.isdir(os.path.join(candidate, d)) for d in ('configs', 'research')):
      return candidate
  raise FileNotFoundError(
      f'No classicnets checkout at or above {here}: open the notebook from the '
      "repository's colabs/ folder, or in Colab run the first cell.")


def setup() -> tuple[bool, str]:
  """chdir to the repository root, keep TensorFlow (TFDS's reader) off the
  accelerator so JAX has all of its memory; returns (SMOKE, RUNS), RUNS
  created (CLASSICNETS_RUNS: e.g. a mounted Drive folder, to outlive the runtime)."""
  os.chdir(repository_root())
  from research import hostmem
  hostmem.use_heap_for_large_buffers()
  keep_tensorflow_off_accelerators()
  smoke = os.environ.get('CLASSICNETS_SMOKE') == '1'
  from research import fileio
  runs = os.fspath(fileio.absolute(os.environ.get('CLASSICNETS_RUNS', 'runs/colab')))
  fileio.makedirs(runs)  # A Drive folder, or a bucket: gs://BUCKET/runs.
  return smoke, runs


def show(*paths: str) -> None:
  """Displays PNG files in the notebook."""
  from IPython.display import Image, display
  for path in paths:
    display(Image(path))


def keep_tensorflow_off_accelerators() -> None:
  """TensorFlow would reserve GPU memory beside JAX; it only reads data here.
  Where JAX runs on the CPU there is nothing to keep it off, and TensorFlow is
  not imported (4 s) unless a public TFDS dataset needs it later."""
  import importlib.util
  if importlib.util.find_spec('tensorflow') is None:
    return
  import jax
  if jax.default_backend() == 'cpu':
    return
  from research import tfimport
  tfimport.import_quietly()
  import tensorflow as tf
  try:
    tf.config.set_visible_devices([], 'GPU')
  except RuntimeError:
    pass  # TF already initialised its devices (a second setup() in the same kernel).
