"""Pictures of an autoencoder beside PCA: reconstructions and 2-d codes
(Hinton & Salakhutdinov 2006, Figs. 2 and 3)."""

from __future__ import annotations

from research import fileio
from research.plots.common import figures


def plot_reconstructions(originals, autoencoded, pca, image_shape, code_size: int,
                         path: str) -> str:
  """Rows: test images, the autoencoder's reconstructions, PCA's with as many
  components as the code has units (Hinton & Salakhutdinov 2006, Fig. 2)."""
  import numpy as np
  plt = figures()
  rows = [('original', originals), (f'autoencoder\n{code_size}-d code', autoencoded),
          (f'PCA\n{code_size} comp.', pca)]
  n = len(originals)
  fig, axes = plt.subplots(3, n, figsize=(1.1 * n, 3.6))
  for i, (name, images) in enumerate(rows):
    for j in range(n):
      ax = axes[i, j]
      ax.imshow(np.clip(images[j], 0, 1).reshape(image_shape[:2]), cmap='gray_r', vmin=0, vmax=1)
      ax.set_xticks([])
      ax.set_yticks([])
      if j == 0:
        ax.set_ylabel(name, fontsize=7)
    err = float(np.mean(np.sum((np.clip(images, 0, 1) - originals) ** 2, axis=-1)))
    if i:
      axes[i, n - 1].set_title(f'sq. err {err:.1f}', fontsize=7, loc='right')
  fig.tight_layout()
  fileio.save_figure(fig, path)
  plt.close(fig)
  return path


def plot_codes_2d(codes_NxC, pca_Nx2, labels, path: str) -> str:
  """The test set in two dimensions coloured by class: the first two principal
  components of the pixels beside the autoencoder's code (its first two
  principal directions when the code has more than two units), as in Hinton &
  Salakhutdinov 2006, Fig. 3."""
  import numpy as np
  plt = figures()
  if codes_NxC.shape[1] == 2:
    auto, auto_title = codes_NxC, 'autoencoder: 2-d code'
  else:
    centered = codes_NxC - codes_NxC.mean(0)
    _, _, vt = np.linalg.svd(centered, full_matrices=False)
    auto = centered @ vt[:2].T
    auto_title = f'autoencoder: {codes_NxC.shape[1]}-d code, first 2 principal directions'
  fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
  for ax, points, title in ((axes[0], pca_Nx2, 'PCA: first 2 components of the pixels'),
                            (axes[1], auto, auto_title)):
    scatter = ax.scatter(points[:, 0], points[:, 1], c=labels, cmap='tab10', s=3, alpha=0.7)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
  fig.colorbar(scatter, ax=axes, ticks=range(10), label='class')
  fileio.save_figure(fig, path)
  plt.close(fig)
  return path
