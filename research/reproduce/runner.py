"""Training a table's rows: workdirs per (row, seed), in this process
(`run_row`) or as a pool of `launch.train` subprocesses (`train_in_parallel`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import ml_collections

from research import config_lib, errors, fileio, preemption, writers
from research.reproduce.tables import Row, Table


def run_dir(root: str, table: Table, row: Row, seed: int) -> str:
  slug = ''.join(ch if ch.isalnum() else '_' for ch in row.name.lower()).strip('_')
  return fileio.join(root, table.name, slug, f'seed_{seed}')


def load_row_config(row: Row, seed: int, repo_root: str = '.'):
  config = config_lib.load(os.path.join(repo_root, row.config), row.arg)
  config_lib.override(config, dict(row.overrides))
  config.seed = seed
  return config


def run_row(table: Table, row: Row, seeds: int, root: str, repo_root: str = '.',
            train_missing: bool = True, *, steps_per_dispatch: int = 1
            ) -> list[dict[str, Any]]:
  """Results of each seed: read from finished workdirs, trained otherwise
  (or, with train_missing=False, left out)."""
  from research import train  # Heavy imports only when something runs.

  num_seeds = row.seeds or seeds
  if row.vmap_seeds and train_missing and not all(
      fileio.exists(fileio.join(run_dir(root, table, row, s), 'results.json'))
      for s in range(num_seeds)):
    from research import multiseed
    writers.log(f'[{table.name}] {row.name}: training seeds 0-{num_seeds - 1} as one program.')
    t0 = time.perf_counter()
    multiseed.train_and_evaluate_seeds(
        load_row_config(row, 0, repo_root), list(range(num_seeds)),
        [run_dir(root, table, row, s) for s in range(num_seeds)],
        steps_per_dispatch=steps_per_dispatch)
    _add_wall_seconds([run_dir(root, table, row, s) for s in range(num_seeds)],
                      time.perf_counter() - t0)
  results = []
  for seed in range(num_seeds):
    workdir = run_dir(root, table, row, seed)
    path = fileio.join(workdir, 'results.json')
    if fileio.exists(path):
      results.append(fileio.read_json(path))
      writers.log(f'[{table.name}] {row.name} seed {seed}: done earlier ({workdir}).')
      continue
    if not train_missing:
      continue
    writers.log(f'[{table.name}] {row.name} seed {seed}: training in {workdir}.')
    t0 = time.perf_counter()
    train.train_and_evaluate(load_row_config(row, seed, repo_root), workdir,
                             steps_per_dispatch=steps_per_dispatch)
    _add_wall_seconds([workdir], time.perf_counter() - t0)
    results.append(fileio.read_json(path))
  return results


def _add_wall_seconds(workdirs: list[str], seconds: float) -> None:
  """Records a finished run's wall time (shared by seeds trained together)."""
  for workdir in workdirs:
    path = fileio.join(workdir, 'results.json')
    result = fileio.read_json(path)
    result['wall_seconds'] = seconds
    fileio.write_json(path, result)


def _log_path(launch_dir: str) -> str:
  """A subprocess's console log: beside its workdir, or, for a workdir in a
  bucket (where a file cannot be appended to), under ./logs/ here."""
  if fileio.is_remote(launch_dir):
    return os.path.join('logs', launch_dir.split('://', 1)[1]) + '.log'
  return launch_dir + '.log'


def launch_command(row: Row, seed: int, workdir: str, repo_root: str,
                   num_seeds: int = 1, steps_per_dispatch: int = 1) -> list[str]:
  config = os.path.join(repo_root, row.config) + (f':{row.arg}' if row.arg else '')
  return [sys.executable, '-m', 'launch.train', f'--config={config}', f'--workdir={workdir}',
          f'--config.seed={seed}', f'--num_seeds={num_seeds}',
          *([f'--steps_per_dispatch={steps_per_dispatch}'] if steps_per_dispatch > 1 else []),
          *(f'--config.{k}={v}' for k, v in row.overrides)]


def job_minutes(job) -> float | None:
  """A job's expected one-core minutes (None when its row gives none)."""
  row, _, num_seeds = job
  return None if row.cpu_minutes is None else row.cpu_minutes * num_seeds



def dataset_sections(config) -> list:
  """The config's dataset sections (`dataset`, `test_dataset`, ...): each
  ConfigDict with a registered `name` and a `train_split`."""
  from research.data.registry import DATASETS
  return [value for _, value in sorted(config.items())
          if isinstance(value, ml_collections.ConfigDict) and 'train_split' in value
          and value.get('name') in DATASETS]

def schedule(jobs: list) -> list:
  """Longest job first (the LPT rule: a pool of W workers then finishes within
  4/3 of the best possible time), so that a slow row does not start last and run
  alone while the other workers idle. Jobs without an estimate keep their table
  order, after the estimated ones; the sort is stable, so rows of equal cost
  (and tables whose rows depend on earlier rows, which give no estimates) keep
  their order."""
  return sorted(jobs, key=lambda job: -(job_minutes(job) or 0.0))


def pool_minutes(minutes: list[float], workers: int) -> float:
  """When `workers` greedy workers finish `minutes` of jobs taken in order."""
  finish = [0.0] * workers
  for m in minutes:
    finish[finish.index(min(finish))] += m
  return max(finish)


class PoolStopped(preemption.Preempted):
  """SIGTERM reached the pool: its running runs were stopped the same way
  (each saved a checkpoint), so rerunning the command continues them."""

  def __init__(self, stopped: list[str]):
    Exception.__init__(
        self, 'Preempted (SIGTERM): ' + (f'stopped {", ".join(stopped)} after each saved a '
                                         'checkpoint' if stopped else 'no run was training')
        + '; run the same command again to resume.')
    self.step = None


def _stop(running: dict) -> list[str]:
  """Passes SIGTERM on to every running run (launch.train saves a checkpoint
  and exits) and waits for them; returns what was stopped."""
  stopped = []
  for process, row, seeds_str, *_ in running.values():
    if process.poll() is None:
      process.send_signal(signal.SIGTERM)
      stopped.append(f'{row.name} {seeds_str}')
  for process, *_, log, _ in running.values():
    try:
      process.wait(timeout=300)
    except subprocess.TimeoutExpired:
      process.kill()
      process.wait()
    log.close()
  return stopped


def train_in_parallel(table: Table, seeds: int, root: str, repo_root: str = '.',
                      workers: int = 2, *, steps_per_dispatch: int = 1) -> None:
  """Trains every missing (row, seed) as a `launch.train` subprocess, `workers`
  at a time, each pinned to its own share of this machine's cores.

  For CPU hosts: small models use two cores better as two one-core processes
  than as one two-core process (XLA's threads gain little on small matmuls;
  the fortunes LSTM: 2 x 4.8 vs 7.0 steps/s on 2 cores). Each run logs to
  WORKDIR.log; a failed run is reported after the others finish. SIGTERM (or
  Ctrl-C) stops the running runs the same way, each saving a checkpoint, before
  this returns (PoolStopped): no run is left training on its own.
  """
  from research.data import datasets

  def missing(row, seed):
    return not fileio.exists(fileio.join(run_dir(root, table, row, seed), 'results.json'))

  # A job is (row, first seed, number of seeds): one seed, or a vmapped row's all.
  jobs = []
  for row in table.rows:
    num_seeds = row.seeds or seeds
    if row.vmap_seeds:
      jobs += [(row, 0, num_seeds)] if any(missing(row, s) for s in range(num_seeds)) else []
    else:
      jobs += [(row, s, 1) for s in range(num_seeds) if missing(row, s)]
  jobs = schedule(jobs)
  minutes = [job_minutes(job) for job in jobs]
  if jobs and all(m is not None for m in minutes):
    writers.log(f'[{table.name}] {len(jobs)} runs, about {sum(minutes):.0f} core-minutes: '
                f'about {pool_minutes(minutes, workers):.0f} minutes on {workers} workers '
                '(the rows\' cpu_minutes, measured on a 2-core CPU).')
  # Prepare every TFDS dataset here first: two workers building the same one
  # into the same directory would race. (A task's own inputs, such as a style
  # run's two image files, are read by each run.)
  # Every dataset section counts (a speech run tests on `test_dataset`).
  prepared = set()
  for row, _, _ in jobs:
    for dataset in dataset_sections(load_row_config(row, 0, repo_root)):
      if dataset.to_json_best_effort() not in prepared:
        datasets.prepare(dataset)
        prepared.add(dataset.to_json_best_effort())
  cores = sorted(os.sched_getaffinity(0))
  slots = [cores[i::workers] for i in range(workers)] if len(cores) >= workers else [cores] * workers
  running: dict[int, tuple] = {}  # slot -> (process, row, seeds, workdir, start, log)
  failures = []
  on_main_thread = threading.current_thread() is threading.main_thread()
  previous = signal.getsignal(signal.SIGTERM) if on_main_thread else None

  def on_sigterm(signum, frame):
    del signum, frame
    raise PoolStopped([])

  if on_main_thread:
    signal.signal(signal.SIGTERM, on_sigterm)
  try:
    _run_pool(table, root, repo_root, workers, steps_per_dispatch, jobs, slots, running,
              failures)
  except (PoolStopped, KeyboardInterrupt):
    raise PoolStopped(_stop(running)) from None
  finally:
    if on_main_thread:
      signal.signal(signal.SIGTERM, previous)
  if failures:
    raise errors.UserError('Runs failed: ' + '; '.join(failures))


def _run_pool(table, root, repo_root, workers, steps_per_dispatch, jobs, slots, running,
              failures) -> None:
  """train_in_parallel's loop: starts jobs on free slots until all are done."""
  while jobs or running:
    for slot in range(workers):
      if slot in running or not jobs:
        continue
      row, seed, num_seeds = jobs.pop(0)
      # A vmapped row trains into ROW/seed_K from its row directory.
      workdir = run_dir(root, table, row, seed)
      launch_dir = os.fspath(fileio.path(workdir).parent) if num_seeds > 1 else workdir
      seeds_str = f'seeds {seed}-{seed + num_seeds - 1}' if num_seeds > 1 else f'seed {seed}'
      log_path = _log_path(launch_dir)
      os.makedirs(os.path.dirname(log_path), exist_ok=True)
      log = open(log_path, 'a', encoding='utf-8')
      writers.log(f'[{table.name}] {row.name} {seeds_str}: training in {launch_dir} '
                  f'(cores {slots[slot]}, log {log_path}).')
      process = subprocess.Popen(
          launch_command(row, seed, launch_dir, repo_root, num_seeds, steps_per_dispatch),
          cwd=repo_root,
          stdout=log, stderr=subprocess.STDOUT)
      # Pinned right after the start (a preexec_fn would run in a forked copy of
      # this multithreaded process); the child's threads start after imports.
      os.sched_setaffinity(process.pid, slots[slot])
      running[slot] = (process, row, seeds_str, [
          run_dir(root, table, row, s) for s in range(seed, seed + num_seeds)],
          time.perf_counter(), log, launch_dir)
    time.sleep(0.5)
    for slot, (process, row, seeds_str, workdirs, start, log, launch_dir) in list(
        running.items()):
      if process.poll() is None:
        continue
      log.close()
      del running[slot]
      if process.returncode != 0 or not all(
          fileio.exists(fileio.join(w, 'results.json')) for w in workdirs):
        failures.append(f'{row.name} {seeds_str} (exit {process.returncode}; '
                        f'see {_log_path(launch_dir)})')
        continue
      seconds = time.perf_counter() - start
      _add_wall_seconds(workdirs, seconds)
      writers.log(f'[{table.name}] {row.name} {seeds_str}: done in {seconds:.0f} s.')
