"""TensorFlow, imported only where a run uses it, with its start-up notices muted.

The project's own datasets are ArrayRecord files read without TensorFlow, so a
run on them never imports it: that import costs about 4 s and 500 MB of
resident memory (`launch.train` on the digits took 11.0 s with it, 5.8 s
without). It is needed by TFDS's public datasets (TFRecord), the streamed
ImageNet pipeline and paths in a bucket where epath picks `tf.io.gfile`;
`research.data.datasets.require_tensorflow` and `research.fileio.path` call
`import_quietly` before those.
"""

import os
import sys


def import_quietly() -> None:
  """Imports TensorFlow with the C-level stderr closed: its C++ libraries print
  start-up notices at import (oneDNN, absl's pre-init warning, once per
  library) that no environment variable silences in TF 2.21. Only the import
  is muted: Python errors are raised as usual, and TF's later warnings and
  errors are shown. Without TensorFlow installed, nothing happens (whatever
  needs it says so when it runs)."""
  if 'tensorflow' in sys.modules:
    return
  # Later C++ INFO lines (e.g. tf.data's buffer-size notice) too; warnings stay.
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')
  sys.stderr.flush()
  saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
  try:
    os.dup2(devnull, 2)
    try:
      import tensorflow  # noqa: F401  (pylint: unused-import)
    except ImportError:
      pass
  finally:
    os.dup2(saved, 2)
    os.close(saved)
    os.close(devnull)
