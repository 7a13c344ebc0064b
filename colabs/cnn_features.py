# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # CNN features: from edges to outlines (Fashion-MNIST)
#
# A small convolutional network trained on Fashion-MNIST, and what its layers compute:
# first-layer filters, feature maps layer by layer, the confusion matrix, and each
# layer's shape and parameter count. Convolution shares one small filter across all
# positions and max pooling keeps the strongest response of each neighbourhood
# (LeCun et al. 1998); `pooling_translation.ipynb` measures the translation
# invariance this buys.
#
# Runs as is on a Colab CPU, GPU or TPU runtime (the first cell installs the project).

# %%
# Setup. In Colab: fetch this project once per runtime and install what the runtime lacks
# (colabs/install.sh keeps Colab's own JAX and TensorFlow). Elsewhere: a checkout after
# `pip install -e .`. Workdirs under /content vanish with the runtime: to keep them, mount
# Drive (`from google.colab import drive; drive.mount('/content/drive')`) and set
# CLASSICNETS_RUNS=/content/drive/MyDrive/classicnets-runs before this cell.
import os
import subprocess
import sys

REPO = 'https://github.com/classicnets/classicnets'  # = pyproject.toml [project.urls]
if 'google.colab' in sys.modules:
  checkout = os.environ.get('CLASSICNETS_CHECKOUT', '/content/classicnets')
  if not os.path.isdir(checkout):
    subprocess.run(['git', 'clone', '--depth=1', os.environ.get('CLASSICNETS_REPO', REPO),
                    checkout], check=True)
    subprocess.run(['bash', os.path.join(checkout, 'colabs', 'install.sh'), sys.executable],
                   check=True)
  sys.path.insert(0, checkout)
from research import notebook

SMOKE, RUNS = notebook.setup()  # cwd: the repository root; SMOKE: small data, few steps (CI)

# %% [markdown]
# ## Data and model
#
# Fashion-MNIST (Xiao et al. 2017): 60,000 training and 10,000 test 28×28 images of ten
# kinds of clothing. Where Debian's `dataset-fashion-mnist` is installed its IDX files
# are read (`:source=idx`); elsewhere, e.g. in Colab, TFDS downloads `fashion_mnist`
# (`:source=tfds`). SMOKE mode trains 20 steps on TFDS mock data (random pixels).
#
# The model (`configs/fashion_mnist_cnn.py`): two blocks of two 3×3 conv-BN-ReLU layers
# (32 and 64 channels), each block followed by 2×2 max pooling, then a dense layer with
# dropout. Every conv layer applies the same small filter at every position (weight
# sharing), and pooling keeps the strongest response in each 2×2 window.

# %%
import contextlib

import tensorflow_datasets as tfds

from research import config_lib, train

local_idx = os.path.isdir('/usr/share/datasets/fashion-mnist')
source = 'idx' if local_idx and not SMOKE else 'tfds'
config = config_lib.load('configs/fashion_mnist_cnn.py',
                         f'source={source}' + (',runlocal' if SMOKE else ''))
if not SMOKE:
  config.num_epochs = 2.0  # 12 in the table's recipe; features take shape in the first epochs
workdir = os.path.join(RUNS, 'fashion_mnist_cnn')
data = tfds.testing.mock_data(num_examples=256) if SMOKE else contextlib.nullcontext()
with data:
  results = train.train_and_evaluate(config, workdir)
print(f"test accuracy {results['test_accuracy']:.4f} on {results['test_examples']:.0f} "
      f"images after {results['steps']} steps ({results['train_seconds']:.0f} s)")

# %% [markdown]
# ## What the layers learned
#
# The first layer's 3×3 filters, then one test image's feature maps layer by layer:
# the first maps respond to edges and contrast at each position; after pooling the
# deeper maps are coarser and respond to larger parts of the outline.

# %%
for picture in ('filters.png', 'feature_maps.png', 'confusion_matrix.png', 'curves.png'):
  notebook.show(os.path.join(workdir, picture))

# %% [markdown]
# ## Shapes and parameters, layer by layer
#
# The model is a Flax module: a pure function of its parameters. `tabulate` traces it
# abstractly and lists each layer's output shape and parameter count: the spatial size
# halves at each pooling while the channels grow, and a 3×3 conv layer has the same few
# hundred (or thousand) weights whatever the image size, because every position shares
# them.

# %%
import jax
import jax.numpy as jnp

from research.models.cnn import SmallCNN

model_fields = {k: v for k, v in config.model.items() if k != 'name'}
model = SmallCNN(num_classes=10, **model_fields)
print(model.tabulate(jax.random.key(0), jnp.zeros((1, 28, 28, 1)), depth=1,
                     console_kwargs={'width': 120}))
