"""`launch.benchmark` on Gatys style transfer, and its PyTorch twin: the JAX
step timed on generated images and tiny generated weights, the twin's
command taken from the config, and (where torch is installed) the twin
starting from the same objective as JAX."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest

from research import errors, torch_twin


def gatys_config(tmp_path, monkeypatch, arg=''):
  import fake_weights
  from testlib import load_config, quiet
  config = quiet(load_config('gatys_style', f'runlocal{"," + arg if arg else ""}'))
  return fake_weights.style_config_on_generated_files(config, str(tmp_path / 'data'), monkeypatch)


@pytest.mark.parametrize('optimizer', [
    'adam', pytest.param('lbfgs', marks=pytest.mark.slow)])  # L-BFGS: 4-11 s here
def test_benchmark_times_the_gatys_step(tmp_path, monkeypatch, optimizer):
  from research import benchmark
  config = gatys_config(tmp_path, monkeypatch, f'optimizer={optimizer}')
  report = benchmark.benchmark(config, steps=2, warmup=0, repeats=1)
  assert report['seconds_per_step'] > 0 and report['examples_per_second'] > 0
  assert math.isfinite(report['loss_at_start']) and report['loss_at_start'] > 0
  assert math.isfinite(report['loss_after_first_step'])
  if optimizer == 'lbfgs':
    # One evaluation by the step, at least one by the line search.
    assert report['evaluations_per_step_each_repeat'][0] >= 2
    assert report['seconds_per_evaluation'] < report['seconds_per_step']
  else:
    assert 'seconds_per_evaluation' not in report


def test_the_twin_gets_every_value_from_the_config(tmp_path, monkeypatch):
  config = gatys_config(tmp_path, monkeypatch, 'optimizer=lbfgs')
  config.style.tv_weight = 0.5
  config.dataset.style_image_size = 40
  cmd = torch_twin.twin_command(config, torch_python='/x/python', steps=3, warmup=1, repeats=2,
                                threads=2)
  args = dict(a[2:].split('=', 1) for a in cmd[3:])
  assert cmd[:3] == ['/x/python', '-m', 'launch.benchmark_torch']
  assert args['model'] == 'gatys' and args['optimizer'] == 'lbfgs'
  assert (args['steps'], args['warmup'], args['repeats'], args['threads']) == ('3', '1', '2', '2')
  assert args['photo'] == config.dataset.content and os.path.isabs(args['photo'])
  assert args['size'] == '32' and args['style_size'] == '40'
  assert args['weights'].startswith(config.loss_network.weights_dir) and os.path.isfile(
      args['weights'])
  assert args['style_layers'] == ','.join(config.style.style_layers)
  assert args['content_layers'] == 'block4_conv2' and args['pooling'] == 'avg'
  assert float(args['style_weight']) == 1e3 and float(args['tv_weight']) == 0.5
  assert args['bgr_mean'] == '103.939,116.779,123.68'
  assert args['lr'] == '1.0' and args['memory_size'] == '10' and 'b1' not in args


@pytest.mark.parametrize('arg, override, match', [
    ('init=noise', None, "style.init='noise'"),
    ('', ('schedule.name', 'cosine'), "schedule.name='cosine'"),
    ('', ('optimizer.name', 'sgd'), "runs 'adam' or 'lbfgs'"),
])
def test_what_the_twin_cannot_mirror_is_one_clear_error(tmp_path, monkeypatch, arg, override,
                                                       match):
  config = gatys_config(tmp_path, monkeypatch, arg)
  if override:
    section, key = override[0].split('.')
    config[section][key] = override[1]
  with pytest.raises(errors.ConfigError, match=match):
    torch_twin.check_supported(config)


def test_a_task_without_a_twin_is_refused():
  from testlib import load_config
  with pytest.raises(errors.ConfigError, match="No PyTorch twin for task 'fast_neural_style'"):
    torch_twin.check_supported(load_config('johnson_style'))


def test_a_python_without_torch_says_how_to_get_one(tmp_path):
  with pytest.raises(errors.ConfigError, match='cannot be run .*--torch_python=PATH'):
    torch_twin.check_torch(str(tmp_path / 'missing' / 'python'))
  stub = tmp_path / 'python'
  stub.write_text("#!/bin/sh\necho \"ModuleNotFoundError: No module named 'torch'\" >&2\nexit 1\n")
  stub.chmod(0o755)
  with pytest.raises(errors.ConfigError, match="No module named 'torch'.*--torch_python=PATH"):
    torch_twin.check_torch(str(stub))


def test_the_twins_report_is_parsed_and_compared(tmp_path, monkeypatch):
  out = '\n'.join([
      'model: gatys (adam)  image: 21x32  threads: 2  torch 2.13.0+cpu',
      'loss_at_start: 1000.0', 'loss_after_first_step: 900.0',
      'seconds_per_iteration_each_repeat: [0.5, 0.4]',
      'evaluations_per_iteration_each_repeat: [1.0, 1.0]',
      'seconds_per_evaluation: 0.4', 'seconds_per_iteration=0.400000'])
  twin = torch_twin.parse_report(out)
  assert twin['seconds_per_iteration'] == 0.4 and twin['model'].startswith('gatys (adam)')
  assert twin['seconds_per_iteration_each_repeat'] == [0.5, 0.4]
  config = gatys_config(tmp_path, monkeypatch, 'optimizer=adam')
  jax_report = {'seconds_per_step': 0.2, 'loss_at_start': 1000.05, 'loss_after_first_step': 900.0}
  result = torch_twin.compare(config, jax_report, twin)
  assert result['speed_jax_over_torch'] == 2.0
  assert result['loss_at_start_relative_difference'] == pytest.approx(5e-5, rel=1e-2)
  assert result['losses_agree']
  result = torch_twin.compare(config, {**jax_report, 'loss_at_start': 1001.0}, twin)
  assert not result['losses_agree']
  with pytest.raises(errors.UserError, match='printed no result'):
    torch_twin.parse_report('Traceback (most recent call last):\n  ...')


def test_against_torch_refuses_a_config_without_a_twin_in_one_line():
  from testlib import REPO_ROOT, subprocess_env
  cmd = [sys.executable, '-m', 'launch.benchmark', '--config=configs/johnson_style.py',
         '--against=torch']
  proc = subprocess.run(cmd, cwd=REPO_ROOT, env=subprocess_env(), capture_output=True,
                        text=True, timeout=180)
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert "error: No PyTorch twin for task 'fast_neural_style'" in proc.stderr
  assert proc.stderr.count('error:') == 1 and 'Traceback' not in proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize('optimizer', ['adam', 'lbfgs'])
def test_the_torch_twin_starts_from_the_jax_objective(tmp_path, monkeypatch, optimizer):
  pytest.importorskip('torch', reason='torch is not a project dependency: the twin needs it')
  config = gatys_config(tmp_path, monkeypatch, f'optimizer={optimizer}')
  jax_report, twin, result = torch_twin.against_torch(
      config, torch_python=sys.executable, steps=2, warmup=1, repeats=1)
  assert result['losses_agree'], result
  assert result['loss_at_start_relative_difference'] <= 1e-5
  if optimizer == 'adam':  # One step on: the content loss is no longer 0.
    assert result['loss_after_first_step_relative_difference'] <= 1e-4
  assert twin['seconds_per_iteration'] > 0 and jax_report['seconds_per_step'] > 0
