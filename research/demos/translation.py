"""Pooling and translation: how much a representation changes when the image
moves by a few pixels.

A convolution is equivariant (shift the input, the feature maps shift with
it) and max pooling discards where within each window a feature fired, so a
stack of conv + ReLU + max-pool stages changes little under small shifts
(LeCun et al. 1998, Sec. II-A; the "approximate invariance" of Goodfellow,
Bengio & Courville 2016, Sec. 9.3). A fully connected layer has no such
structure: its units see fixed pixel positions. Both are measured at random
(seeded) initialisation, so the difference comes from the architecture alone.

Shifts move the image right by s pixels with zeros entering on the left (a
true translation, unlike np.roll's wrap-around); the change is
||r(shifted) - r(image)|| / ||r(image)||, averaged over the images.
"""

from __future__ import annotations

import dataclasses
import functools
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from research import plots
from research.demos import common
from research.models.common import flatten, pool_2x2

FASHION_MNIST_TEST_IMAGES = '/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz'
IMAGE_SIDE = 28


class ConvPool(nn.Module):
  """LeNet-like feature extractor: stages of 5x5 conv, ReLU, 2x2 max-pool."""
  features: tuple[int, ...] = (16, 32)

  @nn.compact
  def __call__(self, x_BxHxWx1):
    x = x_BxHxWx1
    for i, f in enumerate(self.features):
      x = pool_2x2(nn.relu(nn.Conv(f, (5, 5), padding='SAME', name=f'conv_{i}')(x)), 'max')
    return flatten(x)


class FullyConnected(nn.Module):
  """One dense ReLU layer on the flattened image."""
  width: int

  @nn.compact
  def __call__(self, x_BxHxWx1):
    return nn.relu(nn.Dense(self.width)(flatten(x_BxHxWx1)))


class Pixels(nn.Module):
  """The image itself: the reference both representations are compared to."""

  @nn.compact
  def __call__(self, x_BxHxWx1):
    return flatten(x_BxHxWx1)


def representations() -> dict[str, nn.Module]:
  conv = ConvPool()
  # The dense layer gets as many units as the conv stack has outputs.
  side = IMAGE_SIDE // 2 ** len(conv.features)
  return {'conv+pool': conv, 'fully connected': FullyConnected(side * side * conv.features[-1]),
          'pixels': Pixels()}


@dataclasses.dataclass(frozen=True)
class Settings:
  num_images: int
  shifts: tuple[int, ...]


DEFAULT = Settings(num_images=1000, shifts=(0, 1, 2, 3, 4))
SMALL = Settings(num_images=64, shifts=(0, 1, 2, 3, 4))


@dataclasses.dataclass
class Result:
  settings: Settings
  seed: int
  source: str                       # where the images came from
  widths: dict[str, int]            # representation -> number of features
  change: dict[str, list[float]]    # representation -> mean relative change per shift
  example: np.ndarray               # one image, HxW, for the figure

  def summary(self) -> dict:
    return {'settings': dataclasses.asdict(self.settings), 'seed': self.seed,
            'source': self.source, 'widths': self.widths, 'relative_change': self.change}

  def describe(self) -> str:
    lines = [f'{self.source}; mean relative change per shift {list(self.settings.shifts)}:']
    lines += [f'{name} ({self.widths[name]} features): ' + ' '.join(f'{c:.3f}' for c in change)
              for name, change in self.change.items()]
    return '\n'.join(lines)


def load_images(num_images: int, path: str = FASHION_MNIST_TEST_IMAGES):
  """(images N x 28 x 28 float32 in [0, 1], a description of their source).

  Fashion-MNIST's test images if the IDX file is there, else scikit-learn's
  8x8 digits, each pixel made 3x3 (24x24) and padded to 28x28.
  """
  if os.path.exists(path):
    from research.data.builders.mnist_idx import read_idx
    images = read_idx(path)[:num_images].astype(np.float32) / 255
    return images, f'Fashion-MNIST test images ({path})'
  from sklearn.datasets import load_digits
  digits = load_digits().images[:num_images] / 16
  images = np.pad(np.kron(digits, np.ones((1, 3, 3))), ((0, 0), (2, 2), (2, 2)))
  return images.astype(np.float32), 'scikit-learn digits, 8x8 upsampled 3x and padded to 28x28'


def shift_right(images_NxHxW, pixels: int):
  """Moves the content `pixels` to the right; zeros enter on the left."""
  if pixels == 0:
    return images_NxHxW
  return jnp.pad(images_NxHxW, ((0, 0), (0, 0), (pixels, 0)))[:, :, :-pixels]


@functools.partial(jax.jit, static_argnums=(0, 1))
def relative_change(model, shifts: tuple[int, ...], key, images_NxHxW):
  """Mean over the images of ||r(shift(x)) - r(x)|| / ||r(x)||, per shift."""
  params = model.init(key, images_NxHxW[:1, ..., None])
  represent = lambda x_NxHxW: model.apply(params, x_NxHxW[..., None])
  r_NxF = represent(images_NxHxW)
  norm_N = jnp.linalg.norm(r_NxF, axis=1)
  return jnp.stack([
      jnp.mean(jnp.linalg.norm(represent(shift_right(images_NxHxW, s)) - r_NxF, axis=1) / norm_N)
      for s in shifts])


def num_features(model, x_1xHxWx1) -> int:
  out, _ = jax.eval_shape(model.init_with_output, jax.random.key(0), x_1xHxWx1)
  return int(out.shape[-1])


def run(*, small: bool = False, seed: int = 0) -> Result:
  settings = SMALL if small else DEFAULT
  images, source = load_images(settings.num_images)
  key = jax.random.key(seed)
  change, widths = {}, {}
  for name, model in representations().items():
    change[name] = [float(c) for c in relative_change(model, settings.shifts, key, images)]
    widths[name] = num_features(model, images[:1, ..., None])
  return Result(settings, seed, source, widths, change, images[0])


def plot(result: Result, path: str) -> str:
  """Left: an image and its largest shift. Right: relative change vs shift."""
  plt = plots.figures()
  fig, axes = plt.subplots(1, 3, figsize=(11, 3.4), gridspec_kw={'width_ratios': [1, 1, 2.2]})
  largest = max(result.settings.shifts)
  for ax, s in zip(axes[:2], (0, largest)):
    ax.imshow(np.asarray(shift_right(result.example[None], s))[0], cmap='gray')
    ax.set(xticks=[], yticks=[], title=f'shift {s} px')
  ax = axes[2]
  for name, change in result.change.items():
    ax.plot(result.settings.shifts, change, marker='o', label=f'{name} ({result.widths[name]})',
            ls=':' if name == 'pixels' else '-')
  ax.set(xlabel='shift to the right (pixels)', ylabel='relative change of representation',
         title=f'random init, mean of {result.settings.num_images} images', ylim=(0, None))
  ax.set_xticks(result.settings.shifts)
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  return common.save_figure(fig, path)
