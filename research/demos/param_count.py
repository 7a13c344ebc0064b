"""Parameter counts: a 1000x1000 image into 10^6 hidden units, three ways.

The article's example (issue 8), the classic argument for weight sharing:
connect a 1000x1000 grayscale image to a hidden layer of 10^6 units and
  (a) fully connected: 10^6 x 10^6 = 10^12 weights;
  (b) locally connected, each unit seeing its own 10x10 patch: 10^6 x 100 =
      10^8 weights;
  (c) convolutional, all units of a feature map sharing one 10x10 kernel: 100
      weights per map, whatever the image size.

The counts come from the real Flax layers' parameter shapes, built abstractly
with `jax.eval_shape(module.init, ...)`: nothing is allocated (the dense
kernel alone would be 4 TB of float32).
"""

from __future__ import annotations

import dataclasses
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from research import plots
from research.demos import common

IMAGE_SIDE = 1000
RECEPTIVE_FIELD = (10, 10)


@dataclasses.dataclass(frozen=True)
class Layer:
  name: str
  description: str
  module: nn.Module
  flatten: bool  # Dense reads the image as one vector of H*W pixels.


def layers(side: int = IMAGE_SIDE) -> tuple[Layer, ...]:
  hidden = side * side
  return (
      Layer('fully connected', f'nn.Dense({hidden:,})', nn.Dense(hidden), flatten=True),
      # SAME padding keeps the output at side x side: exactly one unit per pixel.
      Layer('locally connected', f'nn.ConvLocal(1, {RECEPTIVE_FIELD}), no sharing',
            nn.ConvLocal(1, RECEPTIVE_FIELD, padding='SAME'), flatten=False),
      Layer('convolution, 1 map', f'nn.Conv(1, {RECEPTIVE_FIELD})',
            nn.Conv(1, RECEPTIVE_FIELD, padding='SAME'), flatten=False),
      Layer('convolution, 100 maps', f'nn.Conv(100, {RECEPTIVE_FIELD})',
            nn.Conv(100, RECEPTIVE_FIELD, padding='SAME'), flatten=False),
  )


@dataclasses.dataclass
class Result:
  image_side: int
  rows: list[dict]  # one per layer: shapes, weights, biases, total, hidden units

  def summary(self) -> dict:
    return {'image_side': self.image_side, 'rows': self.rows}

  def markdown(self) -> str:
    lines = ['| layer | Flax module | hidden units | weights | biases | total | float32 |',
             '|---|---|---:|---:|---:|---:|---:|']
    for r in self.rows:
      lines.append(f"| {r['name']} | `{r['module']}` | {r['hidden_units']:,} | {r['weights']:,} "
                   f"| {r['biases']:,} | {r['total']:,} | {_bytes(4 * r['total'])} |")
    return '\n'.join(lines)

  def describe(self) -> str:
    return (f'{self.image_side}x{self.image_side} grayscale image into one hidden layer:\n'
            + self.markdown())


def count(layer: Layer, side: int) -> dict:
  """Parameter and hidden-unit counts of one layer on a side x side image,
  from abstract shapes only."""
  x = jax.ShapeDtypeStruct((1, side * side) if layer.flatten else (1, side, side, 1), jnp.float32)
  params = jax.eval_shape(layer.module.init, jax.random.key(0), x)['params']
  out = jax.eval_shape(layer.module.apply, {'params': params}, x)
  shapes = {name: tuple(leaf.shape) for name, leaf in params.items()}
  weights = math.prod(shapes['kernel'])
  biases = math.prod(shapes['bias'])
  return {'name': layer.name, 'module': layer.description,
          'kernel_shape': list(shapes['kernel']), 'bias_shape': list(shapes['bias']),
          'hidden_units': math.prod(out.shape[1:]), 'weights': weights, 'biases': biases,
          'total': weights + biases}


def run(*, small: bool = False, seed: int = 0) -> Result:
  """`small` and `seed` are accepted for a uniform interface; the counts are
  abstract, so the full-size case is already instant."""
  del small, seed
  return Result(IMAGE_SIDE, [count(layer, IMAGE_SIDE) for layer in layers()])


def plot(result: Result, path: str) -> str:
  """Weights and biases of each layer, log scale."""
  plt = plots.figures()
  fig, ax = plt.subplots(figsize=(8, 3.2))
  names = [r['name'] for r in result.rows]
  y = np.arange(len(names))
  ax.barh(y - 0.2, [r['weights'] for r in result.rows], height=0.4, label='weights')
  ax.barh(y + 0.2, [r['biases'] for r in result.rows], height=0.4, label='biases')
  for i, r in enumerate(result.rows):
    ax.text(r['total'] * 1.5, i, f"{r['total']:.3g} total", va='center', fontsize=8)
  ax.set(xscale='log', xlim=(0.5, 1e14), yticks=y, yticklabels=names,
         xlabel='parameters',
         title=f'{result.image_side}x{result.image_side} image -> one hidden layer')
  ax.invert_yaxis()
  ax.grid(alpha=0.3, axis='x')
  ax.legend(loc='lower right')
  return common.save_figure(fig, path)


def _bytes(n: int) -> str:
  for unit in ('B', 'kB', 'MB', 'GB', 'TB'):
    if n < 1000:
      return f'{n:.3g} {unit}'
    n /= 1000
  return f'{n:.3g} PB'
