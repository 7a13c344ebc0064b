"""Time-to-accuracy: wall seconds from a training process's start (imports,
data loading and compilation included) until its first evaluation reaches a
target, for several seeds, each in a fresh process, one after another
(`python -m launch.time_to_accuracy`).

Each seed is `python -m launch.train ... --target_metric=M --target_value=V`
(research/train.py `Target`): training stops at the first periodic evaluation
that reaches the target, and results.json records `target_step` and
`target_process_seconds`. A seed that ends its schedule without reaching the
target counts as not reached; the median is taken only when most seeds reach it.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import subprocess
import sys
import time
from typing import Any, Sequence

from research import errors, fileio
from research import workdir as workdir_lib

SUMMARY_FILE = 'time_to_accuracy.json'


@dataclasses.dataclass(frozen=True)
class SeedRun:
  seed: int
  reached: bool
  process_seconds: float | None  # from the process's start to the target's evaluation
  step: int | None
  value: float                   # the metric at the end (the target's evaluation if reached)
  wall_seconds: float            # the whole subprocess, as this process saw it
  workdir: str


def seed_command(config: str, workdir: str, seed: int, metric: str, value: float,
                 overrides: Sequence[str], python: str = sys.executable) -> list[str]:
  return [python, '-m', 'launch.train', f'--config={config}', f'--workdir={workdir}',
          f'--config.seed={seed}', f'--target_metric={metric}', f'--target_value={value!r}',
          *overrides]


def run_seed(config: str, root: str, seed: int, metric: str, value: float,
             overrides: Sequence[str]) -> SeedRun:
  """Trains one seed in a fresh process (a new workdir: a resumed run would
  not count its compilation) and reads back when it reached the target."""
  workdir = fileio.join(root, f'seed_{seed}')
  if fileio.exists(fileio.join(workdir, workdir_lib.RESULTS_FILE)):
    raise errors.ConfigError(f'{workdir} already holds a finished run: time-to-accuracy '
                             'times fresh processes; use a new --root.')
  if fileio.exists(workdir) and fileio.listdir(workdir):
    raise errors.ConfigError(f'{workdir} is not empty; use a new --root.')
  cmd = seed_command(config, workdir, seed, metric, value, overrides)
  print('$ ' + ' '.join(cmd), flush=True)
  t0 = time.perf_counter()
  proc = subprocess.run(cmd, cwd=os.getcwd())
  wall = time.perf_counter() - t0
  if proc.returncode != 0:
    raise errors.UserError(f'seed {seed} failed (exit {proc.returncode}); its log is above.')
  return _seed_run(seed, workdir, metric, wall)


def _seed_run(seed: int, workdir: str, metric: str, wall_seconds: float) -> SeedRun:
  """A finished seed's figures, from its results.json (research/train.py)."""
  results = fileio.read_json(fileio.join(workdir, workdir_lib.RESULTS_FILE))
  return SeedRun(seed=seed, reached='target_step' in results,
                 process_seconds=results.get('target_process_seconds'),
                 step=results.get('target_step'), value=float(results[metric]),
                 wall_seconds=wall_seconds, workdir=workdir)


def read_runs(root: str, metric: str) -> list[SeedRun]:
  """The seeds already timed under `root` (ROOT/seed_K/results.json), by seed:
  to summarise seeds timed by several invocations (--first_seed)."""
  runs = []
  for name in sorted(fileio.listdir(root)):
    workdir = fileio.join(root, name)
    if (name.startswith('seed_') and name[5:].isdigit()
        and fileio.exists(fileio.join(workdir, workdir_lib.RESULTS_FILE))):
      runs.append(_seed_run(int(name[5:]), workdir, metric, float('nan')))
  if not runs:
    raise errors.ConfigError(f'No timed seeds under {root!r}.')
  return sorted(runs, key=lambda r: r.seed)


def summarize(runs: Sequence[SeedRun], metric: str, value: float) -> dict[str, Any]:
  """Per-seed figures and the median over seeds, where more than half reached
  the target (a seed that never reached it is slower than any that did)."""
  reached = [r.process_seconds for r in runs if r.reached]
  median = None
  if len(reached) * 2 > len(runs):
    ordered = sorted(reached) + [float('inf')] * (len(runs) - len(reached))
    median = statistics.median(ordered)
  return {'metric': metric, 'target': value, 'seeds': len(runs),
          'reached': len(reached), 'median_process_seconds': median,
          'runs': [dataclasses.asdict(r) for r in runs]}


def format_summary(summary: dict[str, Any]) -> str:
  lines = [f'{"seed":>4}  {"reached":>7}  {"step":>6}  {summary["metric"]:>14}  '
           f'{"s from start":>12}  {"wall s":>7}']
  for r in summary['runs']:
    seconds = f'{r["process_seconds"]:.1f}' if r['reached'] else '-'
    lines.append(f'{r["seed"]:>4}  {str(r["reached"]):>7}  {r["step"] or "-":>6}  '
                 f'{r["value"]:>14.4f}  {seconds:>12}  {r["wall_seconds"]:>7.1f}')
  median = summary['median_process_seconds']
  lines.append(f'median over {summary["seeds"]} seeds: '
               + (f'{median:.1f} s' if median is not None else
                  f'not reached ({summary["reached"]} of {summary["seeds"]} seeds reached '
                  f'{summary["metric"]} {summary["target"]})'))
  return '\n'.join(lines)


def time_to_accuracy(config: str, root: str, seeds: Sequence[int], metric: str, value: float,
                     overrides: Sequence[str] = ()) -> dict[str, Any]:
  """Runs every seed one after another; writes ROOT/time_to_accuracy.json."""
  fileio.makedirs(root)
  runs = [run_seed(config, root, s, metric, value, overrides) for s in seeds]
  summary = summarize(runs, metric, value)
  summary['command_overrides'] = list(overrides)
  summary['config'] = config
  fileio.write_json(fileio.join(root, SUMMARY_FILE), summary)
  return summary
