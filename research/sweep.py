"""Hyper-parameter sweeps declared in a config file, run and tabulated like a table.

A config may define, beside `get_config(arg)`,

  def get_sweep(arg=None):
    return sweep.Sweep(
        points=sweep.product(sweep.axis('optimizer.learning_rate', [1e-3, 3e-3]),
                             sweep.axis('batch_size', [32, 64])),
        seeds=2)

Each point is a set of `--config.KEY=VALUE` overrides; each point is trained
for seeds 0 ... seeds-1. `to_table` turns a sweep into a `reproduce.Table`
(one row per point, no paper column), so running it, resuming it, training it
on several workers and printing it as mean ± std over seeds are exactly what
`launch.reproduce` does for a paper's table (`python -m launch.sweep`, or
`python -m launch.reproduce --sweep=configs/NAME.py[:ARG]`).
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from typing import Any, Sequence

from research import config_lib, errors

Point = dict[str, Any]  # dotted config key -> value


def axis(key: str, values: Sequence[Any]) -> list[Point]:
  """One key taking each of `values`."""
  if not values:
    raise errors.ConfigError(f'Sweep axis {key!r} has no values.')
  return [{key: v} for v in values]


def product(*axes: list[Point]) -> list[Point]:
  """Every combination of the axes' points (the first axis varies slowest)."""
  return [_merge(combo) for combo in itertools.product(*axes)]


def zipped(*axes: list[Point]) -> list[Point]:
  """The i-th points of all axes together (axes of equal length)."""
  if len({len(a) for a in axes}) > 1:
    raise errors.ConfigError(
        f'sweep.zipped needs axes of equal length, got {[len(a) for a in axes]}.')
  return [_merge(combo) for combo in zip(*axes)]


def _merge(points: Sequence[Point]) -> Point:
  merged: Point = {}
  for point in points:
    if set(point) & set(merged):
      raise errors.ConfigError(f'Sweep key {sorted(set(point) & set(merged))} set twice.')
    merged.update(point)
  return merged


@dataclasses.dataclass(frozen=True)
class Sweep:
  points: list[Point]
  seeds: int = 1
  metric: str = 'accuracy'  # a key of reproduce.METRICS

  def __post_init__(self):
    if not self.points:
      raise errors.ConfigError('A sweep needs at least one point.')
    if self.seeds < 1:
      raise errors.ConfigError(f'Sweep seeds must be >= 1, got {self.seeds}.')
    if any('seed' in p for p in self.points):
      raise errors.ConfigError("Sweep over seeds with `seeds=N`, not a 'seed' axis.")


def load(config_path: str, arg: str | None = None) -> Sweep:
  """The sweep a config file declares (`get_sweep(arg)`)."""
  module = config_lib.load_module(config_path)
  if not hasattr(module, 'get_sweep'):
    raise errors.ConfigError(
        f'{config_path} declares no sweep: add `get_sweep(arg)` returning a '
        'research.sweep.Sweep (see research/sweep.py).')
  return module.get_sweep(arg)


def point_name(point: Point) -> str:
  return ', '.join(f'{k}={v}' for k, v in point.items())


def to_table(config_path: str, arg: str | None = None,
             overrides: dict[str, Any] | None = None):
  """The sweep as a `reproduce.Table`: a row per point (its overrides after the
  fixed `overrides`, e.g. from --config.KEY=VALUE flags), `seeds` seeds each."""
  from research import reproduce

  swept = load(config_path, arg)
  reproduce.check_metric(swept.metric)
  fixed = tuple((overrides or {}).items())
  if 'seed' in dict(fixed):
    raise errors.ConfigError(
        'A sweep sets the seeds itself (Sweep.seeds); drop --config.seed.')
  stem = os.path.splitext(os.path.basename(config_path))[0]
  suffix = ''.join(ch if ch.isalnum() else '_' for ch in arg) if arg else ''
  rows = tuple(
      reproduce.Row(name=point_name(p), config=config_path, arg=arg,
                    overrides=fixed + tuple(p.items()), seeds=swept.seeds)
      for p in swept.points)
  return reproduce.Table(
      name=f'sweep_{stem}' + (f'_{suffix}' if suffix else ''),
      title=f'Sweep of {config_path}' + (f':{arg}' if arg else ''),
      metric=swept.metric, rows=rows,
      note=(f'{len(rows)} points x {swept.seeds} seeds'
            + (f'; fixed: {", ".join(f"{k}={v}" for k, v in fixed)}' if fixed else '') + '.'))


def launch_commands(table, root: str) -> list[str]:
  """One `python -m launch.train ...` line per run, for a cluster's scheduler."""
  import shlex

  from research import reproduce
  lines = []
  for row in table.rows:
    for seed in range(row.seeds):
      cmd = reproduce.launch_command(row, seed, reproduce.run_dir(root, table, row, seed), '')
      lines.append(shlex.join(['python', *cmd[1:]]))
  return lines
