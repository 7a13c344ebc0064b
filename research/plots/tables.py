"""A result table (research/reproduce) as bars: the paper's figure beside ours
over seeds."""

from __future__ import annotations

from research import fileio
from research.plots.common import figures


def plot_table(title: str, unit: str, summary: list[dict], extra_labels: dict[str, str],
               path: str) -> str:
  """One group of horizontal bars per table row: the paper's figure (where
  there is one), ours (mean, error bar = std over seeds, dots = each seed),
  and any extra metric columns (e.g. best during training)."""
  import numpy as np
  plt = figures()
  series = [('paper', lambda s: (s['paper'], None, [])), ('ours', lambda s: (s['mean'], s['std'], s['values']))]
  series += [(f'ours: {label}', lambda s, m=m: (s['extra'][m]['mean'], s['extra'][m]['std'],
                                      s['extra'][m]['values']))
             for m, label in extra_labels.items()]
  if all(s['paper'] is None for s in summary):
    series = series[1:]
  n_rows, n_series = len(summary), len(series)
  height = 0.8 / n_series
  fig, ax = plt.subplots(figsize=(8, 0.55 * n_rows * max(n_series, 2) / 2 + 1.2))
  y = np.arange(n_rows)[::-1].astype(float)
  for j, (label, get) in enumerate(series):
    offset = (j - (n_series - 1) / 2) * height
    for i, s in enumerate(summary):
      mean, std, values = get(s)
      if mean is None:
        continue
      ax.barh(y[i] - offset, mean, height=height * 0.9, color=f'C{j}',
              xerr=std, capsize=2, label=label if i == 0 else None)
      if values:
        ax.plot(values, [y[i] - offset] * len(values), 'k.', markersize=3)
  ax.set_yticks(y, [s['row'] for s in summary])
  import textwrap
  ax.set_xlabel(unit)
  ax.set_title(textwrap.fill(title, 60), fontsize=10)
  ax.grid(axis='x', alpha=0.3)
  handles, labels = ax.get_legend_handles_labels()
  ax.legend(handles, labels, loc='lower right', fontsize=8)
  fig.tight_layout()
  fileio.save_figure(fig, path)
  plt.close(fig)
  return path
