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
# # classicnets demo: pooling and translation
#
# LeCun et al. (1998) built shift tolerance into convolutional networks by architecture:
# a convolution is *equivariant* (shift the image, its feature maps shift the same way,
# because every position uses the same shared weights) and subsampling (here max pooling)
# discards where within each window a feature fired, so a stack of conv + pool stages
# changes little when the image moves by a pixel or two. A fully connected layer has no
# such structure: each unit has its own weight for each pixel position.
#
# `research.demos.translation` measures it at random (seeded) initialisation, so the
# difference comes from the architecture alone: how much a representation r changes,
# ‖r(shifted image) − r(image)‖ / ‖r(image)‖, when the image moves right by 0–4 pixels,
# for two conv + ReLU + 2×2 max-pool stages, a dense ReLU layer with as many outputs, and
# the raw pixels.
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
# The images are Fashion-MNIST's test set where its IDX file is on disk, else
# scikit-learn's 8×8 digits upsampled to 28×28 (as on Colab); `describe()` says which.

# %%
from research.demos import translation

result = translation.run(small=SMOKE)
print(result.describe())
notebook.show(translation.plot(result, os.path.join(RUNS, 'pooling_translation.png')))

# %% [markdown]
# ## The numbers
#
# The relative change per shift, and the conv + pool stack's change as a fraction of the
# dense layer's. At every nonzero shift the pooled representation moves less.

# %%
shifts = result.settings.shifts
conv, dense = result.change['conv+pool'], result.change['fully connected']
print(f"{'shift (px)':22}" + ''.join(f'{s:>7d}' for s in shifts))
for name, change in result.change.items():
  print(f'{name:22}' + ''.join(f'{c:7.3f}' for c in change))
print(f"{'conv+pool / dense':22}" + ''.join(
    f'{c / d:7.2f}' if d else f"{'-':>7}" for c, d in zip(conv, dense)))
assert all(c < d for s, c, d in zip(shifts, conv, dense) if s > 0), result.change

# %% [markdown]
# ## What a shift looks like
#
# One image moved right by 0 to 4 pixels with `shift_right` (zeros enter on the left: a
# true translation, not a wrap-around). To the eye it is the same picture; as a vector of
# pixels, a one-pixel move already changes it by almost half its norm (the table's
# 'pixels' row).

# %%
import matplotlib.pyplot as plt
import numpy as np

images, _ = translation.load_images(1)
fig, axes = plt.subplots(1, len(shifts), figsize=(2.2 * len(shifts), 2.4))
for ax, s in zip(axes, shifts):
  ax.imshow(np.asarray(translation.shift_right(images, s))[0], cmap='gray')
  ax.set(xticks=[], yticks=[], title=f'shift {s} px')
plt.show()

# %% [markdown]
# ## Equivariance underneath
#
# Two 2×2 pools make one output cell 4 pixels wide. So a 4-pixel shift should, away from
# the image's borders, just move the conv + pool feature map by exactly one cell: compare
# the shifted image's map with the original's moved one cell right, on the interior
# columns. Almost all of the measured "change" is the features moving, not being lost.

# %%
import jax
import jax.numpy as jnp

images, _ = translation.load_images(result.settings.num_images)
model = translation.ConvPool()
params = model.init(jax.random.key(result.seed), images[:1, ..., None])
side = translation.IMAGE_SIDE // 4  # 7x7 cells after two 2x2 pools
feature_map = lambda x: model.apply(params, x[..., None]).reshape(
    len(x), side, side, model.features[-1])

def change(a, b):  # mean over images of ||a - b|| / ||b||
  norm = lambda t: jnp.linalg.norm(t.reshape(len(t), -1), axis=1)
  return float(jnp.mean(norm(a - b) / norm(b)))

before = feature_map(images)
after = feature_map(translation.shift_right(images, 4))
as_is = change(after, before)
moved = change(after[:, :, 2:side - 1], before[:, :, 1:side - 2])  # interior columns
print(f'4-pixel shift: change {as_is:.3f} as is, {moved:.3f} after moving the map one cell')
assert moved < 0.25 * as_is
