"""Captioning pictures: the training curves, and test images with their
reference caption and the model's beam-search caption."""

from __future__ import annotations

import textwrap
from typing import Sequence

import numpy as np

from research import fileio
from research.plots import curves
from research.plots.common import figures


def plot_curves(workdir: str, filename: str = 'curves.png') -> str:
  """Per-word loss: training steps and test evaluations."""
  return curves.plot_metric_curves(workdir, 'loss', ('test',),
                                   'negative log likelihood per word', filename)


def plot_captions(images_NxHxWx3: np.ndarray, references: Sequence[Sequence[str]],
                  generated: Sequence[str], path: str, columns: int = 4) -> str:
  """Each image over its first reference caption and the generated one."""
  plt = figures()
  n = len(images_NxHxWx3)
  rows = -(-n // columns)
  fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 3.9 * rows), squeeze=False)
  for i, ax in enumerate(axes.flat):
    ax.axis('off')
    if i >= n:
      continue
    ax.imshow(images_NxHxWx3[i])
    wrap = lambda text: '\n'.join(textwrap.wrap(text, 34)[:2])
    ax.set_title(f'ref: {wrap(references[i][0])}\nours: {wrap(generated[i])}', fontsize=8,
                 loc='left')
  fig.tight_layout()
  fileio.save_figure(fig, path)
  plt.close(fig)
  return path
