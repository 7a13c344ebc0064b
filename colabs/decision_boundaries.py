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
# # classicnets demo: decision boundaries (XOR, moons, spirals)
#
# A linear classifier splits the plane with one line. Minsky & Papert's *Perceptrons*
# (1969) made XOR the emblem of what that cannot do: no line puts (-1,-1) and (1,1) on
# one side and (-1,1), (1,-1) on the other. One hidden layer of nonlinear units can
# bend the boundary, and backpropagation (Rumelhart, Hinton & Williams 1986) finds such
# weights; XOR is the opening example of their chapter on the method in the 1986
# *Parallel Distributed Processing* volumes. Two moons and two interleaved spirals need
# boundaries with more bends, which more units and layers draw more easily.
#
# `research.demos.decision_boundaries` trains a linear model, a one-hidden-layer tanh
# network and a deeper ReLU MLP on each dataset (full-batch Adam, one compiled program
# per model) and reports training accuracy: the question is which boundaries a model
# can draw, not how well it generalises.
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
# ## The demo
#
# `run(small=SMOKE)` trains 3 models on 3 datasets; `plot` draws each model's
# P(class 1) over the plane, the 0.5 contour (the decision boundary) and the points.

# %%
from research.demos import decision_boundaries

result = decision_boundaries.run(small=SMOKE)
print(result.describe())
notebook.show(decision_boundaries.plot(result, os.path.join(RUNS, 'decision_boundaries.png')))
assert result.accuracy['xor']['linear'] <= 0.75
assert result.accuracy['xor']['two_layer'] == 1.0

# %% [markdown]
# ## Why a line gets at most 3 of XOR's 4 points
#
# Suppose a line w·x + b > 0 classified all four correctly: class 0 at (-1,-1) and
# (1,1) means -w₁-w₂+b ≤ 0 and w₁+w₂+b ≤ 0, so b ≤ 0 after adding them; class 1 at
# (-1,1) and (1,-1) means -w₁+w₂+b > 0 and w₁-w₂+b > 0, so b > 0. Contradiction. Any
# three of the points, though, can be separated. Checking 100,000 random lines finds
# exactly that best of 3/4.
#
# The trained linear model scores even less, 1/2: it minimises cross-entropy, not the
# error count. XOR is symmetric under x → -x with the labels unchanged, and the loss is
# strictly convex, so its unique minimum is the zero line: P(class 1) = 0.5 everywhere,
# which the `> 0.5` rule reads as class 0 for all four points.

# %%
import numpy as np

x, y = decision_boundaries.make_dataset('xor', num_points=4, seed=0)
for point, label in zip(x, y):
  print(f'x = {point}, class {label}')

rng = np.random.default_rng(0)
w, b = rng.normal(size=(2, 100_000)), rng.normal(size=100_000)
correct = ((x @ w + b > 0) == y[:, None]).mean(axis=0)  # per line, either orientation:
best = np.maximum(correct, 1 - correct).max()
print(f'best of 100,000 random lines: {best:.2f}; '
      f"trained linear model: {result.accuracy['xor']['linear']:.2f}")
assert best == 0.75

# %% [markdown]
# ## How wide must the hidden layer be?
#
# `train_and_predict(model, settings, key, x, y, mesh)` is the demo's compiled training
# step, so any Flax model can be dropped in. Two tanh units are enough to represent XOR,
# but gradient descent finds such weights only from some initialisations (the others
# end in a poor local minimum); on the spirals the one-hidden-layer net needs a few dozen
# units before its boundary has enough bends.

# %%
import jax
import matplotlib.pyplot as plt

from research.models.mlp import MLP

settings = result.settings
tiny = MLP(num_classes=2, hidden_sizes=(2,), activation='tanh')
xor_accuracy = [float(decision_boundaries.train_and_predict(
    tiny, settings, jax.random.key(seed), x, y, x)[0]) for seed in range(10)]
print('2 hidden units on XOR, seeds 0-9:', xor_accuracy)
assert max(xor_accuracy) == 1.0  # two units suffice

x_sp, y_sp = result.points['spirals']
xs, ys = result.mesh['spirals']
mesh = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
widths = (2, 8, 32)
fig, axes = plt.subplots(1, len(widths), figsize=(3.2 * len(widths), 3.4))
spiral_accuracy = {}
for ax, width in zip(axes, widths):
  model = MLP(num_classes=2, hidden_sizes=(width,), activation='tanh')
  accuracy, prob = decision_boundaries.train_and_predict(
      model, settings, jax.random.key(result.seed), x_sp, y_sp, mesh)
  spiral_accuracy[width] = float(accuracy)
  ax.contourf(xs, ys, np.asarray(prob).reshape(len(ys), len(xs)), levels=np.linspace(0, 1, 11),
              cmap='RdBu_r', alpha=0.6)
  ax.scatter(x_sp[:, 0], x_sp[:, 1], c=y_sp, cmap='RdBu_r', s=8, edgecolors='k', linewidths=0.3)
  ax.set(xticks=[], yticks=[], aspect='equal', title=f'{width} tanh units: {accuracy:.1%}')
plt.show()
assert spiral_accuracy[widths[-1]] > spiral_accuracy[widths[0]], spiral_accuracy
