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
# # classicnets quickstart: train, evaluate, plot, reproduce a table
#
# One experiment is one config file and one workdir. This notebook runs the same
# functions as `python -m launch.train` and `python -m launch.reproduce`:
# LeNet-5 (LeCun et al. 1998) on scikit-learn's 8×8 digits, its pictures, a rerun
# that resumes instead of retraining, and the MNIST-1D table (Greydanus 2020) with
# the paper's figures beside ours.
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
# ## Train and evaluate
#
# `config_lib.load` reads a config file exactly as `--config=configs/NAME.py[:ARG]`
# does; its fields can be changed before training (`--config.KEY=VALUE` on the
# command line). `train_and_evaluate` trains, evaluates on all 360 test images and
# writes the workdir: `config.json`, `metrics.jsonl`, checkpoints, `results.json`
# and pictures.

# %%
import jax
from research import config_lib, train, writers

config = config_lib.load('configs/digits_lenet5.py', 'runlocal' if SMOKE else None)
workdir = os.path.join(RUNS, 'digits_lenet5')
results = train.train_and_evaluate(config, workdir)
print(f"{jax.device_count()} {jax.devices()[0].platform} device(s); test accuracy "
      f"{results['test_accuracy']:.4f} on {results['test_examples']:.0f} images, "
      f"{results['examples_per_second']:.0f} examples/s")

# %% [markdown]
# Running again on the same workdir resumes from its last checkpoint; here the run is
# finished, so it only re-evaluates and gives the same numbers.

# %%
again = train.train_and_evaluate(config, workdir)
assert again['test_accuracy'] == results['test_accuracy']
sorted(os.listdir(workdir))

# %% [markdown]
# ## Plot
#
# The workdir's pictures: training and test curves, the confusion matrix, the first
# layer's filters and one test image's feature maps layer by layer. The metrics are
# plain JSON lines, so custom plots are a few lines.

# %%
for picture in ('curves.png', 'confusion_matrix.png', 'filters.png', 'feature_maps.png'):
  notebook.show(os.path.join(workdir, picture))

# %%
import matplotlib.pyplot as plt

records = writers.read_metrics(workdir)
train_steps = [r['step'] for r in records if 'loss' in r]
plt.plot(train_steps, [r['loss'] for r in records if 'loss' in r], label='train loss')
plt.plot([r['step'] for r in records if 'test_loss' in r],
         [r['test_loss'] for r in records if 'test_loss' in r], 'o-', label='test loss')
plt.xlabel('step')
plt.yscale('log')
plt.legend()
plt.show()

# %% [markdown]
# ## Reproduce a table
#
# `reproduce.run_table(NAME)` is `python -m launch.reproduce NAME`: every row for N
# seeds, finished workdirs reused, the paper's figure and its source beside ours as
# mean ± std. MNIST-1D's rows train all seeds of a row as one compiled program
# (`jax.vmap` over seeds); the full table (8 rows × 5 seeds × 6,000 steps) takes
# about 3.5 minutes on a 2-core CPU. In SMOKE mode two rows train for 50 steps.

# %%
import dataclasses

from research import reproduce

table = reproduce.TABLES['mnist1d']
if SMOKE:
  table = dataclasses.replace(table, rows=tuple(
      dataclasses.replace(row, overrides=row.overrides + (('num_train_steps', 50),))
      for row in table.rows[:2]))
print(reproduce.tabulate(table, seeds=2 if SMOKE else 5, root=os.path.join(RUNS, 'tables')))
notebook.show(os.path.join(RUNS, 'tables', 'mnist1d', 'table.png'))
