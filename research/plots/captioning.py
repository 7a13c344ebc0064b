"""Captioning pictures: the training curves, and test images with their
reference caption and the model's beam-search caption."""

from __future__ import annotations

import os
import textwrap
from typing import Sequence

import numpy as np

from research import fileio, writers
from research.plots.common import figures


def plot_curves(workdir: str, filename: str = 'curves.png') -> str:
  """Per-word loss: training steps and test evaluations."""
  plt = figures()
  records = writers.read_metrics(workdir)
  train = [r for r in records if 'loss' in r]
  evals = [r for r in records if 'test_loss' in r]
  fig, ax = plt.subplots(figsize=(6, 3.8))
  ax.plot([r['step'] for r in train], [float(r['loss']) for r in train], label='train')
  ax.plot([r['step'] for r in evals], [float(r['test_loss']) for r in evals], 'o-', label='test')
  ax.set(xlabel='step', ylabel='negative log likelihood per word',
         title=os.path.basename(os.path.normpath(workdir)))
  ax.grid(alpha=0.3)
  ax.legend()
  fig.tight_layout()
  path = fileio.join(workdir, filename)
  fileio.save_figure(fig, path)
  plt.close(fig)
  return path


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
