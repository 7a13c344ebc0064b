"""Put this folder first on PYTHONPATH and TensorFlow is not there: `import
tensorflow` fails and `importlib.util.find_spec('tensorflow')` is None, as in an
install without the `tf` extra (tests/test_launch.py; `sys.modules['tensorflow']
= None` would not do: TFDS then thinks TensorFlow is loaded)."""

import sys


class _WithoutTensorFlow:
  def __init__(self, finder):
    self._finder = finder

  def find_spec(self, name, path=None, target=None):
    if name == 'tensorflow' or name.startswith('tensorflow.'):
      return None
    return self._finder.find_spec(name, path, target)

  def __getattr__(self, attr):
    return getattr(self._finder, attr)


sys.meta_path[:] = [_WithoutTensorFlow(f) if hasattr(f, 'find_spec') else f for f in sys.meta_path]
