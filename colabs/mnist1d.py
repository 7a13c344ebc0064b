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
# # MNIST-1D: which inductive bias helps, in minutes
#
# MNIST-1D (Greydanus & Kobak, "Scaling down deep learning with MNIST-1D") turns the ten
# digits into 40-sample 1-D signals small enough that a CPU trains every classic model
# in seconds, yet hard enough to separate them: logistic regression, an MLP, a CNN and a
# GRU, each with and without the positions shuffled.
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
# ## The data
#
# The project's `mnist1d` TFDS builder runs the `mnist1d` package's own generator with
# its default arguments (4,000 train / 1,000 test signals of 40 samples): each digit's
# 1-D template is padded, sheared, scaled, translated, blurred and noised. `shuffle`
# applies one fixed permutation to the 40 positions of every signal: the information is
# unchanged, but neighbouring samples are no longer neighbours.

# %%
import numpy as np

from research import config_lib
from research.data import images

data = images.load(config_lib.load('configs/mnist1d.py', 'cnn'))
shuffled = images.load(config_lib.load('configs/mnist1d.py', 'cnn,shuffle'))
print('train', data.train_inputs.shape, 'test', data.eval_inputs.shape,
      'classes', np.bincount(data.train_labels))

import matplotlib.pyplot as plt

fig, axes = plt.subplots(2, 5, figsize=(12, 4), sharex=True, sharey=True)
for digit, ax in enumerate(axes.flat):
  i = int(np.argmax(data.train_labels == digit))
  ax.plot(data.train_inputs[i, :, 0], label='signal')
  ax.plot(shuffled.train_inputs[i, :, 0], alpha=0.6, label='shuffled')
  ax.set_title(str(digit))
axes[0, 0].legend(fontsize=7)
plt.show()

# %% [markdown]
# ## Four models, several seeds as one program
#
# The paper's reference models (`configs/mnist1d.py`): logistic regression, an MLP,
# a 1-D CNN and a bidirectional GRU, trained with Adam (lr 1e-2, batch 100, 6,000 steps).
# Models this small leave a machine idle, so all seeds of a model train as one compiled
# program (`jax.vmap` over seeds, `research/multiseed.py`); each seed still gets its own
# complete workdir. SMOKE mode trains 2 seeds for 50 steps, positions in order only.

# %%
import time

from research import multiseed

SEEDS = [0, 1] if SMOKE else [0, 1, 2, 3, 4]
results = {}
for shuffle in ((False,) if SMOKE else (False, True)):
  for name in ('logreg', 'mlp', 'cnn', 'gru'):
    variant = name + (',shuffle' if shuffle else '')
    config = config_lib.load('configs/mnist1d.py', variant)
    if SMOKE:
      config.num_train_steps = 50
    slug = variant.replace(',', '_')
    start = time.perf_counter()
    runs = multiseed.train_and_evaluate_seeds(
        config, SEEDS, [os.path.join(RUNS, 'mnist1d', slug, f'seed_{s}') for s in SEEDS])
    accuracy = 100 * np.array([r['test_accuracy'] for r in runs])
    results[variant] = accuracy
    print(f'{variant:>14}: {accuracy.mean():5.2f} ± {accuracy.std():.2f} % '
          f'({len(SEEDS)} seeds in {time.perf_counter() - start:.0f} s)')

# %% [markdown]
# ## Beside the paper
#
# The paper's figures (the MNIST-1D repository's README table) come with the table
# definition in `research/reproduce/tables.py`. Shuffling costs the CNN and the GRU most of
# their advantage: both rely on neighbouring samples being neighbours (local filters,
# sequential order), while logistic regression and the MLP see the 40 inputs as an
# unordered vector anyway.

# %%
from research import reproduce

table_rows = {row.arg: row for row in reproduce.TABLES['mnist1d'].rows}
names = list(results)
paper = {n: table_rows[n].paper for n in names}
x = np.arange(len(names))
plt.figure(figsize=(10, 3.5))
plt.bar(x - 0.2, [paper[n] for n in names], 0.4, label='paper')
plt.bar(x + 0.2, [results[n].mean() for n in names], 0.4,
        yerr=[results[n].std() for n in names], label=f'ours ({len(SEEDS)} seeds)')
plt.xticks(x, [table_rows[n].name for n in names], rotation=20)
plt.ylabel('test accuracy %')
plt.legend()
plt.show()

# %% [markdown]
# Each run's workdir also holds a picture of test signals by class, misclassified ones
# in red (here the CNN's, seed 0):

# %%
notebook.show(os.path.join(RUNS, 'mnist1d', 'cnn', 'seed_0', 'signals.png'))
