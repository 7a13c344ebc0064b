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
# # classicnets demo: universal approximation with one hidden layer
#
# Cybenko (1989) proved that finite sums of sigmoidal units, i.e. networks with one hidden
# layer, can approximate any continuous function on a compact set to any accuracy given
# enough units; Hornik (1991) showed that it is the multilayer architecture, not the
# particular squashing function, that gives this power. The theorems say such weights
# exist; they say nothing about how many units a given accuracy takes or whether
# gradient descent finds them.
#
# `research.demos.universal_approximation` fits sin(3x) + 0.3x² − 0.5|x| on [−1, 1] with
# one hidden layer of ReLU units of growing width, trains several initialisations per
# width (all in one vmapped program) and keeps the best. A ReLU network on one input is
# piecewise linear with at most one breakpoint per unit, which the fits show.
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

# %%
from research.demos import universal_approximation

result = universal_approximation.run(small=SMOKE)
print(result.describe())
notebook.show(universal_approximation.plot(
    result, os.path.join(RUNS, 'universal_approximation.png')))

# %% [markdown]
# ## How fast does the error fall?
#
# The slope of log(RMS error) against log(width) is the empirical rate: error ∝ width^slope.
# For comparison, a hand-built network: the linear interpolant of the target on `width`
# equal pieces of [−1, 1], which a width-`width` ReLU layer represents exactly (next
# cell). It is not the best network of its width (at width 1 training beats it), but the
# target is smooth on either side of its kink at 0, a knot for every even width, so the
# interpolant's error falls like width⁻²: networks that good exist, and the distance
# of the trained ones from that rate is the cost of finding weights by gradient descent.

# %%
import numpy as np

widths = np.array(result.settings.widths)
rms = np.array([result.rms_error[w] for w in widths])
x_test, y_test = result.x_test, result.y_test
f = lambda x: np.asarray(universal_approximation.target(x))
interp_rms = np.array([np.sqrt(np.mean(
    (np.interp(x_test, np.linspace(-1, 1, w + 1), f(np.linspace(-1, 1, w + 1))) - y_test) ** 2))
    for w in widths])
print(' width  max|err| (trained)  RMS (trained)  RMS (interpolant)')
for w, r, i in zip(widths, rms, interp_rms):
  print(f'{w:6d}  {result.max_abs_error[w]:18.4f}  {r:13.4f}  {i:17.4f}')
slope = np.polyfit(np.log(widths), np.log(rms), 1)[0]
interp_slope = np.polyfit(np.log(widths), np.log(interp_rms), 1)[0]
print(f'RMS error ∝ width^{slope:.2f} trained, width^{interp_slope:.2f} interpolant')
assert all(a > b for a, b in zip(rms, rms[1:])), rms
assert slope < -0.5, slope

# %% [markdown]
# ## The interpolant is a width-`width` ReLU network
#
# f̂(x) = f(−1) + s₁ relu(x + 1) + Σₖ (sₖ₊₁ − sₖ) relu(x − tₖ), with sₖ the slope of the
# k-th piece and tₖ the interior knots: one unit for the first slope and one for each
# change of slope, `width` units in all. Written into the project's `MLP` params, it
# gives back `np.interp` exactly.

# %%
import jax.numpy as jnp

from research.models.mlp import MLP

def interpolant_params(width):
  knots = np.linspace(-1, 1, width + 1)
  slopes = np.diff(f(knots)) / np.diff(knots)
  return {'hidden_0': {'kernel': jnp.ones((1, width)), 'bias': jnp.asarray(-knots[:-1])},
          'out': {'kernel': jnp.asarray(np.diff(slopes, prepend=0.0))[:, None],
                  'bias': jnp.asarray(f(knots[:1]))}}

width = 8
net = MLP(num_classes=1, hidden_sizes=(width,), activation='relu')
by_net = net.apply({'params': interpolant_params(width)}, jnp.asarray(x_test)[:, None])[:, 0]
knots = np.linspace(-1, 1, width + 1)
gap = float(np.abs(by_net - np.interp(x_test, knots, f(knots))).max())
print(f'width {width}: max |network - interpolant| = {gap:.1e}')
assert gap < 1e-5
