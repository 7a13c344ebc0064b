"""Time-to-accuracy: the trainer's target stop, the seconds since the process
started, the per-seed runner and its median; FLOPs and MFU in launch.benchmark."""

import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from research import benchmark, errors, train, writers
from research import time_to_accuracy as tta
from testlib import REPO_ROOT, load_config, quiet, subprocess_env


def test_a_target_stops_training_at_the_first_evaluation_that_reaches_it(tmp_path):
  config = quiet(load_config('digits_mlp'), eval_every_steps=20, num_train_steps=200)
  # The same run without a target tells which evaluation first reaches 0.8.
  full = train.train_and_evaluate(quiet(load_config('digits_mlp'), eval_every_steps=20,
                                        num_train_steps=200), str(tmp_path / 'full'))
  curve = [r for r in writers.read_metrics(str(tmp_path / 'full')) if 'test_accuracy' in r]
  first = next(r['step'] for r in curve if r['test_accuracy'] >= 0.8)
  assert first < full['steps']
  results = train.train_and_evaluate(config, str(tmp_path / 'w'),
                                     target=train.Target('test_accuracy', 0.8))
  assert results['target_step'] == results['steps'] == first
  assert results['test_accuracy'] >= 0.8
  assert 0 < results['target_process_seconds'] < writers.process_seconds()
  # Stopped where the uninterrupted run was at that step: same numbers.
  same = next(r for r in curve if r['step'] == first)
  np.testing.assert_allclose(results['test_accuracy'], same['test_accuracy'])


def test_a_target_reached_at_a_checkpoint_step_is_saved_once(tmp_path):
  config = quiet(load_config('digits_mlp'), eval_every_steps=20, checkpoint_every_steps=20)
  results = train.train_and_evaluate(config, str(tmp_path),
                                     target=train.Target('test_accuracy', 0.8))
  steps = sorted(int(p.name) for p in (tmp_path / 'checkpoints').iterdir() if p.name.isdigit())
  assert steps[-1] == results['target_step']


def test_an_unreached_target_trains_the_whole_schedule(tmp_path):
  config = quiet(load_config('digits_mlp'), eval_every_steps=20, num_train_steps=40)
  results = train.train_and_evaluate(config, str(tmp_path),
                                     target=train.Target('test_accuracy', 1.01))
  assert results['steps'] == 40 and 'target_step' not in results


def test_lower_is_better_for_losses_and_error_rates():
  assert train.Target('test_loss', 0.5).reached({'test_loss': 0.4})
  assert not train.Target('test_loss', 0.5).reached({'test_loss': 0.6})
  assert train.Target('test_greedy_wer', 0.3).reached({'test_greedy_wer': 0.3})
  assert train.Target('test_accuracy', 0.9).reached({'test_accuracy': 0.9})
  assert not train.Target('test_accuracy', 0.9).reached({'test_accuracy': 0.89})


def test_bad_targets_are_refused_early(tmp_path):
  with pytest.raises(errors.ConfigError, match="'test_acc' is not among the evaluation"):
    train.Target('test_acc', 0.9).reached({'test_accuracy': 0.5, 'test_loss': 1.0})
  config = quiet(load_config('digits_mlp'), eval_every_steps=0)
  with pytest.raises(errors.ConfigError, match='needs periodic evaluations'):
    train.train_and_evaluate(config, str(tmp_path / 'w'), target=train.Target('test_loss', 0.1))
  assert not (tmp_path / 'w').exists()


def test_process_seconds_counts_from_the_process_start():
  # This process started before this test (and before pytest collected it).
  start = writers.process_start_time()
  assert start < time.time() - writers.process_seconds() + 0.01
  assert 0 < writers.process_seconds() < 24 * 3600
  code = 'import time; time.sleep(1.0); from research import writers; print(writers.process_seconds())'
  out = subprocess.run([sys.executable, '-c', code], cwd=REPO_ROOT, env=subprocess_env(),
                       capture_output=True, text=True, timeout=120, check=True).stdout
  assert 1.0 <= float(out) < 30  # The sleep before the import counts.


def _run(seed, reached, seconds, value=0.9):
  return tta.SeedRun(seed=seed, reached=reached, process_seconds=seconds if reached else None,
                     step=100 if reached else None, value=value, wall_seconds=1.0, workdir='w')


def test_the_median_counts_unreached_seeds_as_slowest():
  runs = [_run(0, True, 10.0), _run(1, False, None), _run(2, True, 30.0), _run(3, True, 20.0),
          _run(4, False, None)]
  summary = tta.summarize(runs, 'test_accuracy', 0.9)
  assert summary['reached'] == 3 and summary['median_process_seconds'] == 30.0
  assert 'median over 5 seeds: 30.0 s' in tta.format_summary(summary)
  # Most seeds never reach it: no median.
  summary = tta.summarize(runs[:2] + runs[4:], 'test_accuracy', 0.9)
  assert summary['median_process_seconds'] is None
  assert 'not reached (1 of 3 seeds' in tta.format_summary(summary)


@pytest.mark.slow
def test_launch_time_to_accuracy_times_fresh_processes(tmp_path):
  cmd = [sys.executable, '-m', 'launch.time_to_accuracy', '--config=configs/digits_mlp.py',
         '--target=0.9', '--seeds=1', '--first_seed=3', f'--root={tmp_path}', '--',
         '--config.eval_every_steps=44', '--config.plot=False']
  proc = subprocess.run(cmd, cwd=REPO_ROOT, env=subprocess_env(), capture_output=True,
                        text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert 'median over 1 seeds:' in proc.stdout
  summary = tta.summarize(tta.read_runs(str(tmp_path), 'test_accuracy'), 'test_accuracy', 0.9)
  assert [r['seed'] for r in summary['runs']] == [3]
  assert all(r['reached'] and r['process_seconds'] > 0 for r in summary['runs'])
  # The same root again: refused, since a finished workdir would not be timed afresh.
  with pytest.raises(errors.ConfigError, match='already holds a finished run'):
    tta.run_seed('configs/digits_mlp.py', str(tmp_path), 3, 'test_accuracy', 0.9, ())


def test_step_flops_counts_the_lowered_program():
  # A matmul of (64 x 32) by (32 x 16) is 2 * 64 * 32 * 16 FLOPs on any backend.
  lowered = jax.jit(lambda a, b: a @ b).lower(jnp.ones((64, 32)), jnp.ones((32, 16)))
  assert benchmark.step_flops(lowered) == 2 * 64 * 32 * 16


def test_peak_flops_by_device_kind():
  assert benchmark.peak_flops('NVIDIA H200') == 989.4e12
  assert benchmark.peak_flops('NVIDIA H100 80GB HBM3') == 989.4e12
  assert benchmark.peak_flops('TPU v4') == 275e12
  assert benchmark.peak_flops('cpu') is None


def test_a_fitted_task_has_no_target_to_stop_at(tmp_path):
  config = load_config('fashion_mnist_autoencoder', 'pca')
  with pytest.raises(errors.ConfigError, match='is fitted, not trained'):
    train.train_and_evaluate(config, str(tmp_path / 'w'), target=train.Target('test_loss', 1.0))
  assert not (tmp_path / 'w').exists()


def test_the_runner_refuses_used_roots_and_empty_summaries(tmp_path):
  with pytest.raises(errors.ConfigError, match='No timed seeds under'):
    tta.read_runs(str(tmp_path), 'test_accuracy')
  (tmp_path / 'seed_0').mkdir()
  (tmp_path / 'seed_0' / 'config.json').write_text('{}')
  with pytest.raises(errors.ConfigError, match='is not empty; use a new --root'):
    tta.run_seed('configs/digits_mlp.py', str(tmp_path), 0, 'test_accuracy', 0.9, ())


@pytest.mark.parametrize('flags,code,message', [
    (['--target_metric=test_accuracy'], 2, '--target_metric and --target_value go together'),
    (['--target_metric=test_accuracy', '--target_value=0.9', '--num_seeds=2'], 2,
     'times one seed per process: drop --num_seeds'),
])
def test_launch_train_refuses_bad_target_flags(tmp_path, flags, code, message):
  proc = subprocess.run([sys.executable, '-m', 'launch.train', '--config=configs/digits_mlp.py',
                         f'--workdir={tmp_path / "w"}', *flags], cwd=REPO_ROOT,
                        env=subprocess_env(), capture_output=True, text=True, timeout=300)
  assert proc.returncode == code and message in proc.stderr, proc.stderr[-2000:]
  assert not (tmp_path / 'w').exists()


def test_profiling_goes_without_the_torch_twin():
  proc = subprocess.run([sys.executable, '-m', 'launch.benchmark', '--config=configs/digits_mlp.py',
                         '--synthetic=8,8,1', '--profile_steps=2', '--against=torch'],
                        cwd=REPO_ROOT, env=subprocess_env(), capture_output=True, text=True,
                        timeout=300)
  assert proc.returncode == 2 and '--profile_steps profiles the JAX step alone' in proc.stderr
