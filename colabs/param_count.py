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
# # classicnets demo: counting parameters (fully connected, locally connected, convolution)
#
# The classic argument for weight sharing (LeCun et al. 1998, "Gradient-based learning
# applied to document recognition"): connect a 1000×1000 grayscale image to a hidden
# layer of 10⁶ units. Fully connected, every unit sees every pixel: 10⁶ × 10⁶ = 10¹²
# weights. Locally connected, each unit sees only its own 10×10 patch: 10⁸. Convolutional,
# all units of a feature map also share that one 10×10 kernel: 100 weights per map,
# whatever the image size. Local receptive fields encode that nearby pixels matter most;
# sharing encodes that a feature is worth detecting everywhere.
#
# `research.demos.param_count` reads the counts off the real Flax layers (`nn.Dense`,
# `nn.ConvLocal`, `nn.Conv`) with `jax.eval_shape`, which traces `init` on abstract
# shapes and allocates nothing: the dense kernel alone would be 4 TB.
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
# `run` has no training and no small mode: the counts are abstract, so the full-size
# case is instant. (`result.markdown()` gives the table alone, as Markdown.)

# %%
from research.demos import param_count

result = param_count.run(small=SMOKE)
print(result.describe())
notebook.show(param_count.plot(result, os.path.join(RUNS, 'param_count.png')))
totals = {r['name']: r['total'] for r in result.rows}
assert totals['fully connected'] == 10**12 + 10**6
assert totals['convolution, 1 map'] == 10 * 10 + 1

# %% [markdown]
# ## What each would cost in memory
#
# Parameters alone in float32 (4 bytes) and in bfloat16 (2 bytes); training with Adam
# keeps at least the parameters, their gradients and two moment estimates, 16 bytes per
# parameter in float32 (activations not counted). The fully connected layer would need
# some 200 accelerators of 80 GB just for that state; the locally connected one fits on
# one easily; the convolution's is a rounding error.

# %%
def human(num_bytes):
  for unit in ('B', 'kB', 'MB', 'GB', 'TB'):
    if num_bytes < 1000:
      return f'{num_bytes:.3g} {unit}'
    num_bytes /= 1000
  return f'{num_bytes:.3g} PB'

DEVICE_BYTES = 80e9
print(f"{'layer':22} {'parameters':>18} {'float32':>9} {'bfloat16':>9} {'Adam, fp32':>10} "
      f"{'80 GB devices':>13}")
for r in result.rows:
  adam = 16 * r['total']
  print(f"{r['name']:22} {r['total']:>18,} {human(4 * r['total']):>9} "
        f"{human(2 * r['total']):>9} {human(adam):>10} {adam / DEVICE_BYTES:>13.3g}")

# %% [markdown]
# ## `jax.eval_shape` allocates nothing
#
# `eval_shape` runs `init` on `jax.ShapeDtypeStruct`s: the result has the parameters'
# shapes and dtypes and no data. Building the 10¹²-weight layer this way takes
# milliseconds, and the process's peak memory does not grow.

# %%
import resource
import time

import jax
import jax.numpy as jnp

dense = param_count.layers()[0].module  # nn.Dense(1_000_000)
peak_before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux
start = time.perf_counter()
abstract = jax.eval_shape(dense.init, jax.random.key(0),
                          jax.ShapeDtypeStruct((1, 1000 * 1000), jnp.float32))
seconds = time.perf_counter() - start
grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before_kb) / 1024
print(abstract['params']['kernel'])
print(f'{seconds * 1000:.0f} ms; peak memory grew by {grown_mb:.0f} MB')
assert isinstance(abstract['params']['kernel'], jax.ShapeDtypeStruct)
assert grown_mb < 200

# %% [markdown]
# ## How the counts scale with the image
#
# For a side × side image and one unit per pixel, the dense layer needs side⁴ weights,
# the locally connected one 100 · side², the convolution a constant. `count(layer, side)`
# works for any side, as long as the layers are built for the same side.

# %%
import matplotlib.pyplot as plt
import numpy as np

sides = np.array([10, 30, 100, 300, 1000, 3000, 10000])
counts = {layer.name: [] for layer in param_count.layers(10)}
for side in sides:
  for layer in param_count.layers(int(side)):
    counts[layer.name].append(param_count.count(layer, int(side))['weights'])
for name, weights in counts.items():
  slope = round(np.polyfit(np.log(sides), np.log(weights), 1)[0], 1) + 0.0  # no '-0.0'
  plt.loglog(sides, weights, 'o-', label=f'{name}: ∝ side^{slope:.1f}')
plt.xlabel('image side (pixels)')
plt.ylabel('weights')
plt.grid(alpha=0.3)
plt.legend()
plt.show()
assert counts['fully connected'] == [int(s) ** 4 for s in sides]
assert len(set(counts['convolution, 1 map'])) == 1
