"""Metrics over training steps, read back from a workdir's metrics log:
classification, language-model and autoencoder curves."""

from __future__ import annotations

import os

from research import fileio, writers
from research.plots.common import figures


def plot_training_curves(workdir: str, filename: str = 'curves.png') -> str:
  """Training loss/accuracy per logged step and every eval point."""
  plt = figures()
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
  path = fileio.join(workdir, filename)
  fileio.save_figure(fig, path)
  plt.close(fig)
  return path


def plot_lm_curves(workdir: str, filename: str = 'curves.png') -> str:
  """Bits per token: training (per logged step), validation and test (per eval)."""
  return plot_metric_curves(workdir, 'bits_per_token', ('validation', 'test'),
                            'bits per token', filename)


def plot_metric_curves(workdir: str, metric: str, eval_splits: tuple[str, ...], ylabel: str,
                       filename: str = 'curves.png') -> str:
  """One metric: training (`metric`, per logged step) and each eval split
  (`SPLIT_metric`, per evaluation)."""
  plt = figures()
  records = writers.read_metrics(workdir)
  train = [r for r in records if metric in r]
  evals = [r for r in records if f'{eval_splits[0]}_{metric}' in r]
  fig, ax = plt.subplots(figsize=(6, 3.8))
  ax.plot([r['step'] for r in train], [float(r[metric]) for r in train], label='train')
  for split in eval_splits:
    ax.plot([r['step'] for r in evals], [float(r[f'{split}_{metric}']) for r in evals],
            'o-', label=split)
  ax.set(xlabel='step', ylabel=ylabel, title=os.path.basename(os.path.normpath(workdir)))
  ax.grid(alpha=0.3)
  ax.legend()
  fig.tight_layout()
  path = fileio.join(workdir, filename)
  fileio.save_figure(fig, path)
  plt.close(fig)
  return path


def plot_autoencoder_curves(workdir: str, filename: str = 'curves.png') -> str:
  """Training loss (the phase's: layer-wise, then end to end) and squared
  reconstruction error per image, train batches and test evaluations."""
  plt = figures()
  records = writers.read_metrics(workdir)
  train = [r for r in records if 'loss' in r]
  evals = [r for r in records if 'test_squared_error' in r]
  fig, (ax_loss, ax_err) = plt.subplots(1, 2, figsize=(10, 3.8))
  ax_loss.plot([r['step'] for r in train], [float(r['loss']) for r in train])
  ax_loss.set(xlabel='step', ylabel='cross-entropy per example', yscale='log',
              title='training loss (pre-training phases, then fine-tuning)')
  ax_err.plot([r['step'] for r in train], [float(r['squared_error']) for r in train], label='train')
  ax_err.plot([r['step'] for r in evals], [float(r['test_squared_error']) for r in evals], 'o-',
              label='test')
  ax_err.set(xlabel='step', ylabel='squared error per image', yscale='log',
             title='reconstruction error (full autoencoder)')
  for ax in (ax_loss, ax_err):
    ax.grid(alpha=0.3)
  ax_err.legend()
  fig.tight_layout()
  path = fileio.join(workdir, filename)
  fileio.save_figure(fig, path)
  plt.close(fig)
  return path
