r"""Hinton & Salakhutdinov (2006)'s MNIST experiment itself: the
784-1000-500-250-30 deep autoencoder vs 30-component PCA on MNIST: LeCun's
IDX files in data/mnist by default (`python -m launch.get_data mnist`), or
TFDS's `mnist` with `source=tfds` (downloaded where a network exists).

Same variants and recipe as configs/fashion_mnist_autoencoder.py (which this
file reuses, changing only the dataset): `:layerwise` (default), `:e2e`,
`:pca`, `:classify,init=pretrained|random`, `code=N`, `:runlocal`.

  python -m launch.train --config=configs/mnist_autoencoder.py:layerwise --workdir=runs/mnist_ae
  python -m launch.train --config=configs/mnist_autoencoder.py:pca --workdir=runs/mnist_pca

Paper (MNIST, sec. "MNIST" / Fig. 2): average squared error per test image,
autoencoder 3.00, PCA 13.87. Ours, with this CPU recipe (README, table
`hinton2006_mnist`: python -m launch.reproduce hinton2006_mnist --seeds=3 --publish):
PCA 12.59, layer-wise 6.70 +- 0.04, end to end 20.96 +- 0.98 (3 seeds, about
100 s of training each on one core).
"""

import importlib.util
import os

from research import config_lib


def _fashion_config_module():
  path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fashion_mnist_autoencoder.py')
  spec = importlib.util.spec_from_file_location('fashion_mnist_autoencoder', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def get_config(arg=None):
  c = _fashion_config_module().get_config(arg)
  # The Fashion file's `source=idx|tfds` picks MNIST's files or TFDS here.
  c.dataset = config_lib.mnist('idx' if c.dataset.name.endswith('_idx') else 'tfds')
  if 'init_from' in c and c.init_from.workdir is not None:
    c.init_from.workdir = 'runs/mnist_ae'
  return c
