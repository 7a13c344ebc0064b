"""Stylising photos with a trained feed-forward style network
(`python -m launch.stylize`; research/tasks/fast_style.py trains it).

`load_stylizer` rebuilds a fast_neural_style workdir's transformation network
from its config.json and the params of its latest checkpoint; `stylize_file`
reads a photo, stylises it in one forward pass (compiled once per image
shape) and writes a PNG, timing the pass apart from its compilation.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import jax
import ml_collections
import numpy as np

from research import pretrained
from research import workdir as workdir_lib
from research.models.style import TransformNet
from research.plots import style as pictures
from research.data import images


@dataclasses.dataclass
class Stylizer:
  config: ml_collections.ConfigDict
  model: TransformNet
  params: Any
  step: int

  def __post_init__(self):
    network = self.config.loss_network.name

    def forward(params, rgb_1xHxWx3):
      out = self.model.apply({'params': params}, rgb_1xHxWx3)
      return pretrained.displayable(network, out)

    self.forward = jax.jit(forward)


def load_stylizer(workdir: str) -> Stylizer:
  run = workdir_lib.load_run(workdir, tasks=('fast_neural_style',),
                             what='a trained feed-forward style network')
  kwargs = {k: v for k, v in run.config.model.items() if k != 'name'}
  return Stylizer(run.config, TransformNet(**kwargs), jax.device_put(run.params), run.step)


@dataclasses.dataclass
class Stylized:
  path: str               # the PNG written
  shape: tuple[int, ...]  # H x W x 3
  compile_seconds: float  # tracing and compiling for this shape (0 when cached)
  seconds: float          # the forward pass alone, best of `repeats`


def stylize_file(stylizer: Stylizer, photo: str, out_path: str, *,
                 long_side: int | None = None, repeats: int = 3) -> Stylized:
  rgb = images.read_rgb(photo, long_side, what='photo')[None]
  out, compile_seconds, best = timed_forward(stylizer, rgb, repeats)
  pictures.save_rgb(out[0], out_path)
  return Stylized(out_path, out[0].shape, compile_seconds, best)


def timed_forward(stylizer: Stylizer, rgb_1xHxWx3, repeats: int = 3
                  ) -> tuple[np.ndarray, float, float]:
  """(uint8 output, compile seconds, best forward-pass seconds of `repeats`)."""
  t0 = time.perf_counter()
  compiled = stylizer.forward.lower(stylizer.params, rgb_1xHxWx3).compile()
  compile_seconds = time.perf_counter() - t0
  best = float('inf')
  for _ in range(max(1, repeats)):
    t0 = time.perf_counter()
    out = np.asarray(jax.block_until_ready(compiled(stylizer.params, rgb_1xHxWx3)))
    best = min(best, time.perf_counter() - t0)
  return out, compile_seconds, best
