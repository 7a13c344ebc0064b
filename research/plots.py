"""Pictures written into a workdir (PNG, headless)."""

from __future__ import annotations

import os

from research import writers


def plot_training_curves(workdir: str, filename: str = 'curves.png') -> str:
  """Training loss/accuracy per logged step and every eval point."""
  import matplotlib
  matplotlib.use('Agg')  # Headless; set here, not at import of the package.
  import matplotlib.pyplot as plt

  records = writers.read_metrics(workdir)
  train = [r for r in records if 'loss' in r]
  evals = [r for r in records if 'test_accuracy' in r]
  fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8))
  ax_loss.plot([r['step'] for r in train], [float(r['loss']) for r in train], label='train')
  ax_loss.plot([r['step'] for r in evals], [float(r['test_loss']) for r in evals], 'o-', label='test')
  ax_loss.set(xlabel='step', ylabel='loss', yscale='log', title='loss')
  ax_acc.plot([r['step'] for r in train], [float(r['accuracy']) for r in train], label='train')
  ax_acc.plot([r['step'] for r in evals], [float(r['test_accuracy']) for r in evals], 'o-', label='test')
  ax_acc.set(xlabel='step', ylabel='accuracy', title='accuracy')
  for ax in (ax_loss, ax_acc):
    ax.grid(alpha=0.3)
    ax.legend()
  fig.suptitle(os.path.basename(os.path.normpath(workdir)))
  fig.tight_layout()
  path = os.path.join(workdir, filename)
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path
