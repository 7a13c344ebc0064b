"""Kills the quickstart at random points and checks every resume ends
bit-identical to an uninterrupted run.

    python tests/fault_injection.py --trials=20 --seed=0

Each trial starts a fresh workdir, SIGKILLs `launch.train` once at a point of
one of three kinds, then reruns the same command until it finishes:
  * `time`: a random moment of the run (uniform over the reference run's wall
    time, start-up included);
  * `checkpoint`: the moment the k-th checkpoint's temporary directory appears
    (orbax is writing it; k random in 1..6), plus a random 0-50 ms;
  * `prepare`: during the very first dataset preparation (a fresh TFDS data
    dir; killed a random 0-300 ms after 'Preparing dataset' is printed).
A trial passes when results.json's test metrics, the final parameters (every
bit) and the logged loss curve equal the uninterrupted run's. Prints one line
per trial and a summary; exit status 1 if any trial differs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KINDS = ('time', 'checkpoint', 'prepare')
# The quickstart, checkpointing more often so that kills land in saves too.
OVERRIDES = ['--config.checkpoint_every_steps=100', '--config.plot=False']


def command(workdir: str, data_dir: str) -> list[str]:
  return [sys.executable, '-m', 'launch.train', '--config=configs/digits_lenet5.py',
          f'--workdir={workdir}', f'--config.dataset.data_dir={data_dir}', *OVERRIDES]


def environment() -> dict[str, str]:
  env = dict(os.environ)
  env['PYTHONPATH'] = REPO_ROOT + os.pathsep + env.get('PYTHONPATH', '')
  return env


def run_to_end(workdir: str, data_dir: str) -> subprocess.CompletedProcess:
  return subprocess.run(command(workdir, data_dir), cwd=REPO_ROOT, env=environment(),
                        capture_output=True, text=True, timeout=900)


@dataclasses.dataclass
class Outcome:
  kind: str
  killed_after_s: float | None  # None: the run ended before the kill point
  phase: str                    # what the run was doing when killed
  reruns: int
  identical: bool
  detail: str


def summary_of(workdir: str) -> dict:
  """What must be identical: test metrics, the final parameters, the curve."""
  import numpy as np

  from research import workdir as workdir_lib
  from research import writers
  results = json.load(open(os.path.join(workdir, 'results.json'), encoding='utf-8'))
  run = workdir_lib.load_run(workdir)
  import jax
  params = [np.asarray(x).tobytes() for x in jax.tree.leaves(run.params)]
  curve = [(r['step'], r['loss']) for r in writers.read_metrics(workdir) if 'loss' in r]
  return {'test': {k: results[k] for k in ('test_loss', 'test_accuracy', 'test_examples',
                                           'steps')},
          'params': params, 'curve': curve}


def _watch_for_checkpoint(workdir: str, proc: subprocess.Popen, rng: random.Random,
                          fired: threading.Event) -> None:
  """Kills during the k-th checkpoint write (k random in 1..6; the quickstart
  writes about ten)."""
  checkpoints = os.path.join(workdir, 'checkpoints')
  target, seen = rng.randint(1, 6), set()
  while proc.poll() is None:
    if os.path.isdir(checkpoints):
      writing = {n for n in os.listdir(checkpoints) if n.endswith('orbax-checkpoint-tmp')}
      seen |= writing
      if writing and len(seen) >= target:
        time.sleep(rng.uniform(0, 0.05))
        proc.send_signal(signal.SIGKILL)
        fired.set()
        return
    time.sleep(0.002)


def trial(kind: str, rng: random.Random, root: str, shared_data_dir: str,
          reference: dict, reference_seconds: float) -> Outcome:
  workdir = tempfile.mkdtemp(prefix=f'{kind}-', dir=root)
  data_dir = (tempfile.mkdtemp(prefix='tfds-', dir=root) if kind == 'prepare'
              else shared_data_dir)
  proc = subprocess.Popen(command(workdir, data_dir), cwd=REPO_ROOT, env=environment(),
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
  t0 = time.perf_counter()
  fired = threading.Event()
  phase = 'start-up'
  lines: list[str] = []

  def read_stdout():
    for line in proc.stdout:
      lines.append(line)

  reader = threading.Thread(target=read_stdout, daemon=True)
  reader.start()
  if kind == 'time':
    deadline = t0 + rng.uniform(0, reference_seconds)
    while proc.poll() is None and time.perf_counter() < deadline:
      time.sleep(0.005)
    if proc.poll() is None:
      proc.send_signal(signal.SIGKILL)
      fired.set()
  elif kind == 'checkpoint':
    _watch_for_checkpoint(workdir, proc, rng, fired)
  else:  # prepare
    while proc.poll() is None and not any('Preparing dataset' in l for l in lines):
      time.sleep(0.002)
    time.sleep(rng.uniform(0, 0.3))
    if proc.poll() is None:
      proc.send_signal(signal.SIGKILL)
      fired.set()
  proc.wait()
  reader.join(timeout=5)
  killed_after = time.perf_counter() - t0 if fired.is_set() else None
  steps = [l.split()[1] for l in lines if l.startswith('step ') and '/' in l.split()[1]]
  if kind == 'checkpoint':
    phase = f'checkpoint write (after step {steps[-1]})' if steps else 'checkpoint write'
  elif any('Preparing dataset' in l for l in lines) and not any(
      l.startswith('Compiled') for l in lines):
    phase = 'dataset preparation'
  elif steps:
    phase = f'training after step {steps[-1]}'
  reruns = 0
  while True:
    reruns += 1
    done = run_to_end(workdir, data_dir)
    if done.returncode == 0:
      break
    if reruns >= 3:
      return Outcome(kind, killed_after, phase, reruns, False,
                     f'rerun failed: {done.stderr.strip().splitlines()[-1:]}')
  got = summary_of(workdir)
  diffs = [k for k in reference if got[k] != reference[k]]
  return Outcome(kind, killed_after, phase, reruns, not diffs,
                 'identical' if not diffs else f'differs in {diffs}')


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--trials', type=int, default=20)
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--kinds', default=','.join(KINDS),
                      help='comma-separated subset of ' + ','.join(KINDS))
  parser.add_argument('--root', default=None, help='where workdirs go (default: a temp dir)')
  parser.add_argument('--num_train_steps', type=int, default=None,
                      help="a shorter run than the quickstart's 880 steps (the test's)")
  args = parser.parse_args(argv)
  if args.num_train_steps is not None:
    OVERRIDES.append(f'--config.num_train_steps={args.num_train_steps}')
  kinds = args.kinds.split(',')
  rng = random.Random(args.seed)
  root = args.root or tempfile.mkdtemp(prefix='fault-injection-')
  os.makedirs(root, exist_ok=True)
  data_dir = os.path.join(root, 'tfds')
  os.makedirs(data_dir, exist_ok=True)
  t0 = time.perf_counter()
  uninterrupted = run_to_end(os.path.join(root, 'reference'), data_dir)
  if uninterrupted.returncode != 0:
    print(uninterrupted.stderr[-3000:], file=sys.stderr)
    return 1
  reference_seconds = time.perf_counter() - t0
  reference = summary_of(os.path.join(root, 'reference'))
  print(f'reference: {reference["test"]} in {reference_seconds:.1f} s; workdirs in {root}',
        flush=True)
  outcomes = []
  for i in range(args.trials):
    kind = kinds[i % len(kinds)]
    o = trial(kind, rng, root, data_dir, reference, reference_seconds)
    outcomes.append(o)
    when = f'{o.killed_after_s:.2f} s' if o.killed_after_s is not None else 'never (ended)'
    print(f'trial {i + 1:2d} [{kind:10s}] killed at {when:>14s} during {o.phase}; '
          f'{o.reruns} rerun(s): {o.detail}', flush=True)
  passed = sum(o.identical for o in outcomes)
  killed = sum(o.killed_after_s is not None for o in outcomes)
  print(f'{passed}/{len(outcomes)} identical to the uninterrupted run '
        f'({killed} of them killed mid-run).')
  return 0 if passed == len(outcomes) else 1


if __name__ == '__main__':
  sys.exit(main())
