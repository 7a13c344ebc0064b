"""Paper-style result tables: every row run for N seeds, beside the paper's figure.

A table is data (`TABLES`): rows name a config, its variant and overrides, the
paper's figure and where it comes from. `run_table` trains what is missing
(reusing finished workdirs, resuming interrupted ones), then renders
`row | paper (source) | ours mean ± std (n) | difference | wall time`.

The pieces: `tables` (the rows and tables, data only), `runner` (training the
rows, in process or as a pool of subprocesses) and `report` (statistics over
seeds and rendering).
"""

from __future__ import annotations

import dataclasses
import json
import math

from research import config_lib, fileio
from research.reproduce.report import check_metric, metric_value, render, summarize
from research.reproduce.runner import (launch_command, load_row_config, run_dir, run_row,
                                       train_in_parallel)
from research.reproduce.tables import METRICS, TABLES, Row, Table

__all__ = [
    'METRICS', 'TABLES', 'Row', 'Table', 'check_metric', 'launch_command', 'load_row_config',
    'metric_value', 'render', 'run_dir', 'run_row', 'run_table', 'summarize', 'tabulate',
    'train_in_parallel',
]


def run_table(name: str, *, seeds: int, root: str, fmt: str = 'markdown',
              repo_root: str = '.', train_missing: bool = True, workers: int = 1,
              accelerator_rows: bool | None = None, steps_per_dispatch: int = 1) -> str:
  """The named table of TABLES: trains what is missing, prints and saves it."""
  config_lib.check_choice('table', name, TABLES)
  return tabulate(TABLES[name], seeds=seeds, root=root, fmt=fmt, repo_root=repo_root,
                  train_missing=train_missing, workers=workers,
                  accelerator_rows=accelerator_rows, steps_per_dispatch=steps_per_dispatch)


def tabulate(table: Table, *, seeds: int, root: str, fmt: str = 'markdown',
             repo_root: str = '.', train_missing: bool = True, workers: int = 1,
             accelerator_rows: bool | None = None, steps_per_dispatch: int = 1) -> str:
  """Any table (TABLES' or a sweep's, research/sweep.py): trains the missing
  runs, then writes ROOT/TABLE/table.{md|tex,json,png} and returns the text.

  accelerator_rows: also train rows marked `accelerator` (None: only when JAX's
  backend is not the CPU); otherwise they show the runs finished so far.
  steps_per_dispatch: training steps per dispatch (launch.train's flag; for
  accelerators), the same for every run.
  """
  for row in table.rows:  # Every config resolves before anything trains.
    load_row_config(row, 0, repo_root)
  if accelerator_rows is None:
    import jax
    accelerator_rows = jax.default_backend() != 'cpu'
  trained = table if accelerator_rows else dataclasses.replace(
      table, rows=tuple(row for row in table.rows if not row.accelerator))
  if train_missing and workers > 1:
    train_in_parallel(trained, seeds, root, repo_root, workers,
                      steps_per_dispatch=steps_per_dispatch)
  per_row = {row.name: run_row(table, row, seeds, root, repo_root,
                               train_missing and row in trained.rows,
                               steps_per_dispatch=steps_per_dispatch)
             for row in table.rows}
  summary = summarize(table, per_row)
  text = render(table, summary, fmt)
  out_dir = fileio.join(root, table.name)
  ext = 'md' if fmt == 'markdown' else 'tex'
  fileio.write_atomically(fileio.join(out_dir, f'table.{ext}'), text + '\n')
  fileio.write_atomically(fileio.join(out_dir, 'table.json'), json.dumps(
      summary, indent=2, default=lambda x: None if isinstance(x, float) and math.isnan(x) else x))
  if table.figures and all(s['mean'] is not None for s in summary):
    from research.reproduce.figures import FIGURES
    FIGURES[table.figures](table, seeds, root)
  if any(s['mean'] is not None for s in summary):
    from research import plots
    plots.plot_table(table.title, table.unit, summary,
                     {m: METRICS[m][0] for m in table.extra_metrics},
                     fileio.join(out_dir, 'table.png'))
  return text
