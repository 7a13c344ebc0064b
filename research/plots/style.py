"""Pictures of neural style transfer: the stylised image, the photo | painting
| result panel, loss curves of one run, and L-BFGS against Adam."""

from __future__ import annotations

import io
import os
from typing import Sequence

import numpy as np

from research import fileio, writers
from research.plots.common import figures


def save_rgb(rgb_HxWx3: np.ndarray, path: str) -> str:
  """A uint8 RGB array as a PNG at any path fileio reaches."""
  from PIL import Image
  buffer = io.BytesIO()
  Image.fromarray(np.asarray(rgb_HxWx3, np.uint8)).save(buffer, format='PNG')
  fileio.makedirs(fileio.path(path).parent)
  fileio.write_atomically(path, buffer.getvalue())
  return os.fspath(path)


def plot_panel(content_HxWx3, style_HxWx3, result_HxWx3, path: str) -> str:
  plt = figures()
  fig, axes = plt.subplots(1, 3, figsize=(12, 4.2))
  for ax, image, title in zip(axes, (content_HxWx3, style_HxWx3, result_HxWx3),
                              ('photo (content)', 'painting (style)', 'result')):
    ax.imshow(np.clip(np.asarray(image), 0, 255).astype(np.uint8))
    ax.set_title(title)
    ax.axis('off')
  fig.tight_layout()
  fileio.save_figure(fig, path)
  plt.close(fig)
  return os.fspath(path)


def plot_losses(workdir: str, filename: str = 'curves.png') -> str:
  """Content, style and weighted total loss per logged step (log scale)."""
  path = fileio.join(workdir, filename)
  return plot_loss_comparison({os.path.basename(os.path.normpath(workdir)): workdir}, path)


def plot_loss_comparison(runs: dict[str, str], path: str,
                         keys: Sequence[str] = ('content_loss', 'style_loss', 'loss')) -> str:
  """One panel per loss, one line per run ({label: workdir}): e.g. L-BFGS
  against Adam on the same photo and painting."""
  plt = figures()
  fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.6))
  for label, workdir in runs.items():
    records = [r for r in writers.read_metrics(workdir) if 'style_loss' in r]
    for ax, key in zip(axes, keys):
      ax.plot([r['step'] for r in records], [float(r[key]) for r in records], label=label)
  for ax, key in zip(axes, keys):
    ax.set(xlabel='iteration', ylabel=key, yscale='log', title=key.replace('_', ' '))
    ax.grid(alpha=0.3)
    ax.legend()
  fig.tight_layout()
  fileio.save_figure(fig, path)
  plt.close(fig)
  return os.fspath(path)


def plot_pairs(photos_BxHxWx3, stylised_BxHxWx3, path: str) -> str:
  """Photos (top row) above their stylised versions (bottom row)."""
  plt = figures()
  n = len(photos_BxHxWx3)
  fig, axes = plt.subplots(2, n, figsize=(3 * n, 6), squeeze=False)
  for i in range(n):
    for row, image in enumerate((photos_BxHxWx3[i], stylised_BxHxWx3[i])):
      axes[row][i].imshow(np.clip(np.asarray(image), 0, 255).astype(np.uint8))
      axes[row][i].axis('off')
  axes[0][0].set_title('held-out photos', loc='left')
  axes[1][0].set_title('stylised (one forward pass)', loc='left')
  fig.tight_layout()
  fileio.save_figure(fig, path)
  plt.close(fig)
  return os.fspath(path)


def plot_gatys_grid(results: list[tuple[str, str, str]], path: str) -> str:
  """Each photo (columns) in each painting's style (rows), the paintings down
  the left and the photos along the top; `results` holds (photo file,
  painting file, stylised PNG) triples."""
  from PIL import Image
  from research.data import images
  photos = list(dict.fromkeys(photo for photo, _, _ in results))
  paintings = list(dict.fromkeys(painting for _, painting, _ in results))
  plt = figures()
  fig, axes = plt.subplots(len(paintings) + 1, len(photos) + 1,
                           figsize=(2.6 * (len(photos) + 1), 2.2 * (len(paintings) + 1)),
                           squeeze=False)
  for ax in axes.ravel():
    ax.axis('off')
  for j, photo in enumerate(photos):
    axes[0][j + 1].imshow(images.read_rgb(photo, 256, what='photo').astype(np.uint8))
    axes[0][j + 1].set_title(os.path.splitext(os.path.basename(photo))[0], fontsize=9)
  for i, painting in enumerate(paintings):
    axes[i + 1][0].imshow(images.read_rgb(painting, 256, what='painting').astype(np.uint8))
    axes[i + 1][0].set_title(os.path.splitext(os.path.basename(painting))[0], fontsize=9)
  for photo, painting, stylised in results:
    image = Image.open(io.BytesIO(fileio.read_bytes(stylised)))
    axes[paintings.index(painting) + 1][photos.index(photo) + 1].imshow(np.asarray(image))
  fig.tight_layout()
  fileio.save_figure(fig, path, dpi=100)
  plt.close(fig)
  return os.fspath(path)
