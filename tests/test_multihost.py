"""Multi-host training with real processes: 2 JAX processes on localhost (CPU,
gloo collectives, 2 simulated devices each) joined by jax.distributed, against
one process with 4 devices; then SIGTERM to one of them mid-run and a relaunch.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from testlib import REPO_ROOT, subprocess_env

STEPS = 200
PREEMPT_AFTER = 60  # SIGTERM once process 0 has logged this step.
TIMEOUT_S = 300
COMMON_FLAGS = [
    '--config=configs/digits_lenet5.py', f'--config.num_train_steps={STEPS}',
    '--config.log_every_steps=10', '--config.eval_every_steps=100',
    '--config.checkpoint_every_steps=100', '--config.plot=False',
    '--config.tensorboard=False',
]


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def _env(devices: int) -> dict:
  return subprocess_env(
      XLA_FLAGS=f'--xla_force_host_platform_device_count={devices}', JAX_PLATFORMS='cpu')


def _start_processes(workdir, logdir, tag: str, **env) -> list[subprocess.Popen]:
  port = _free_port()
  procs = []
  for i in range(2):
    log = open(os.path.join(logdir, f'{tag}.p{i}.log'), 'w')
    procs.append(subprocess.Popen(
        [sys.executable, '-m', 'launch.train', *COMMON_FLAGS, f'--workdir={workdir}',
         f'--coordinator_address=127.0.0.1:{port}', '--num_processes=2',
         f'--process_id={i}'],
        cwd=REPO_ROOT, env={**_env(devices=2), **env}, stdout=log, stderr=subprocess.STDOUT))
  return procs


def _wait(procs) -> list[int]:
  try:
    return [p.wait(timeout=TIMEOUT_S) for p in procs]
  finally:
    for p in procs:
      if p.poll() is None:
        p.kill()


def _log(logdir, tag: str, i: int) -> str:
  with open(os.path.join(logdir, f'{tag}.p{i}.log'), encoding='utf-8') as f:
    return f.read()


def _losses(workdir) -> dict[int, float]:
  from research import writers
  return {r['step']: r['loss'] for r in writers.read_metrics(str(workdir)) if 'loss' in r}


def _results(workdir) -> dict:
  with open(os.path.join(workdir, 'results.json'), encoding='utf-8') as f:
    return json.load(f)


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
  """An uninterrupted 2-process run and a 1-process, 4-device run."""
  root = tmp_path_factory.mktemp('multihost')
  single = subprocess.run(
      [sys.executable, '-m', 'launch.train', *COMMON_FLAGS, f'--workdir={root / "one"}'],
      cwd=REPO_ROOT, env=_env(devices=4), capture_output=True, text=True, timeout=TIMEOUT_S)
  assert single.returncode == 0, single.stderr[-3000:]
  # A fresh TFDS data dir: both processes find the dataset unbuilt (process 0
  # builds it, process 1 waits and reads it).
  codes = _wait(_start_processes(root / 'two', root, 'two', TFDS_DATA_DIR=str(root / 'tfds')))
  assert codes == [0, 0], _log(root, 'two', 0)[-3000:] + _log(root, 'two', 1)[-3000:]
  return root


@pytest.mark.slow
def test_two_processes_train_like_one_process_with_all_devices(runs):
  log0, log1 = _log(runs, 'two', 0), _log(runs, 'two', 1)
  assert 'process 0 of 2: 2 local / 4 global cpu devices' in log0
  assert 'process 1 of 2: 2 local / 4 global cpu devices' in log1
  assert 'Final (results.json' in log0 and 'Final' not in log1  # Only process 0 reports.
  two, one = _losses(runs / 'two'), _losses(runs / 'one')
  assert sorted(two) == sorted(one) == list(range(10, STEPS + 1, 10))
  np.testing.assert_allclose([two[s] for s in sorted(two)], [one[s] for s in sorted(one)],
                             rtol=1e-5, atol=1e-6)
  r2, r1 = _results(runs / 'two'), _results(runs / 'one')
  assert r2['num_devices'] == r1['num_devices'] == 4
  assert r2['test_examples'] == r1['test_examples'] == 360
  assert r2['test_accuracy'] == r1['test_accuracy']
  np.testing.assert_allclose(r2['test_loss'], r1['test_loss'], rtol=1e-5)


@pytest.mark.slow
def test_sigterm_to_one_process_saves_everywhere_and_resume_matches(runs):
  workdir = runs / 'preempted'
  procs = _start_processes(workdir, runs, 'pre')
  deadline = time.monotonic() + TIMEOUT_S
  while f'step {PREEMPT_AFTER}/' not in _log(runs, 'pre', 0):
    assert time.monotonic() < deadline and procs[0].poll() is None, _log(runs, 'pre', 0)
    time.sleep(0.2)
  procs[1].send_signal(signal.SIGTERM)  # Only process 1 hears it.
  assert _wait(procs) == [0, 0]
  saved = []
  for i in range(2):
    line = [l for l in _log(runs, 'pre', i).splitlines() if l.startswith('Preempted')]
    assert len(line) == 1, _log(runs, 'pre', i)[-3000:]
    saved.append(int(line[0].split('at step ')[1].split(';')[0]))
  assert saved[0] == saved[1], saved  # Both processes stopped at the same step ...
  step = saved[0]
  assert PREEMPT_AFTER <= step < STEPS
  assert str(step) in os.listdir(workdir / 'checkpoints')  # ... and saved it.
  assert not (workdir / 'results.json').exists()

  assert _wait(_start_processes(workdir, runs, 'resume')) == [0, 0]
  assert f'Resumed from step {step}' in _log(runs, 'resume', 0)
  resumed, straight = _results(workdir), _results(runs / 'two')
  for key in ('test_accuracy', 'test_loss', 'test_examples', 'steps'):
    assert resumed[key] == straight[key], key
  # Every loss logged after the restart equals the uninterrupted run's (from the
  # first whole logging interval on: the one cut by the restart averages fewer steps).
  first_whole = (step // 10 + 2) * 10
  after = {s: l for s, l in _losses(workdir).items() if s >= first_whole}
  assert after and after == {s: l for s, l in _losses(runs / 'two').items() if s >= first_whole}
