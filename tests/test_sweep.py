"""Sweeps: expansion (product / zip / seeds), errors, and a real 2 x 2 sweep."""

import json
import os
import subprocess
import sys

import pytest

from research import errors, reproduce, sweep
from testlib import REPO_ROOT, subprocess_env

LENET = os.path.join(REPO_ROOT, 'configs', 'digits_lenet5.py')


def test_product_and_zip_expand_in_order():
  lr = sweep.axis('optimizer.learning_rate', [0.1, 0.2])
  bs = sweep.axis('batch_size', [8, 16, 32])
  assert sweep.product(lr, bs) == [
      {'optimizer.learning_rate': a, 'batch_size': b} for a in (0.1, 0.2) for b in (8, 16, 32)]
  assert sweep.zipped(lr, sweep.axis('seedless', [1, 2])) == [
      {'optimizer.learning_rate': 0.1, 'seedless': 1},
      {'optimizer.learning_rate': 0.2, 'seedless': 2}]


@pytest.mark.parametrize('make, match', [
    (lambda: sweep.axis('lr', []), 'no values'),
    (lambda: sweep.zipped(sweep.axis('a', [1]), sweep.axis('b', [1, 2])), 'equal length'),
    (lambda: sweep.product(sweep.axis('a', [1]), sweep.axis('a', [2])), 'set twice'),
    (lambda: sweep.Sweep(points=sweep.axis('seed', [0, 1])), 'seeds=N'),
    (lambda: sweep.Sweep(points=[]), 'at least one point'),
    (lambda: sweep.Sweep(points=[{}], seeds=0), 'seeds must be'),
])
def test_bad_sweeps_are_refused(make, match):
  with pytest.raises(errors.ConfigError, match=match):
    make()


def test_digits_sweep_is_a_table_of_two_rows_of_two_seeds():
  table = sweep.to_table(LENET, 'runlocal', {'num_train_steps': 5})
  assert table.name == 'sweep_digits_lenet5_runlocal'
  assert [r.name for r in table.rows] == [
      'optimizer.learning_rate=0.001', 'optimizer.learning_rate=0.003']
  assert all(r.seeds == 2 and r.arg == 'runlocal' for r in table.rows)
  assert table.rows[1].overrides == (('num_train_steps', 5), ('optimizer.learning_rate', 0.003))
  config = reproduce.load_row_config(table.rows[1], seed=1)
  assert (config.optimizer.learning_rate, config.num_train_steps, config.seed) == (0.003, 5, 1)


def test_config_without_sweep_and_seed_override_are_refused():
  with pytest.raises(errors.ConfigError, match='declares no sweep'):
    sweep.to_table(os.path.join(REPO_ROOT, 'configs', 'digits_mlp.py'))
  with pytest.raises(errors.ConfigError, match='drop --config.seed'):
    sweep.to_table(LENET, None, {'seed': 3})


def _sweep(*flags):
  return subprocess.run(
      [sys.executable, '-m', 'launch.sweep', '--config=configs/digits_lenet5.py:runlocal',
       *flags], cwd=REPO_ROOT, env=subprocess_env(), capture_output=True, text=True,
      timeout=600)


@pytest.mark.slow
def test_launch_sweep_runs_two_learning_rates_by_two_seeds_and_tabulates(tmp_path):
  root = tmp_path / 'sweeps'
  printed = _sweep(f'--root={root}', '--print_commands', '--config.num_train_steps=8')
  assert printed.returncode == 0, printed.stderr
  commands = printed.stdout.strip().splitlines()
  assert len(commands) == 4 and all(c.startswith('python -m launch.train ') for c in commands)
  assert '--config.seed=1' in commands[1] and '--config.optimizer.learning_rate=0.003' in commands[3]
  assert all('--config.num_train_steps=8' in c for c in commands)
  assert not root.exists()  # Printing trains nothing.

  proc = _sweep(f'--root={root}', '--config.num_train_steps=8', '--config.plot=False',
                '--config.tensorboard=False')
  assert proc.returncode == 0, proc.stderr[-3000:]
  out = root / 'sweep_digits_lenet5_runlocal'
  for lr in ('0_001', '0_003'):
    for seed in (0, 1):
      with open(out / f'optimizer_learning_rate_{lr}' / f'seed_{seed}' / 'results.json') as f:
        result = json.load(f)
      assert result['steps'] == 8
  with open(out / 'table.json') as f:
    rows = json.load(f)
  assert [(r['row'], r['n']) for r in rows] == [
      ('optimizer.learning_rate=0.001', 2), ('optimizer.learning_rate=0.003', 2)]
  assert '| optimizer.learning_rate=0.003 |' in proc.stdout
  assert (out / 'table.png').exists()

  again = subprocess.run(
      [sys.executable, '-m', 'launch.reproduce', '--sweep=configs/digits_lenet5.py:runlocal',
       f'--root={root}', '--notrain'], cwd=REPO_ROOT, env=subprocess_env(),
      capture_output=True, text=True, timeout=300)
  assert again.returncode == 0, again.stderr[-3000:]
  assert again.stdout.count('(n=2)') == 2  # The finished runs, tabulated again.


def test_sweep_with_an_unknown_metric_or_key_is_refused_before_training(tmp_path):
  config = tmp_path / 'swept.py'
  config.write_text(
      'from research import sweep\n'
      'import importlib.util, sys\n'
      f'spec = importlib.util.spec_from_file_location("lenet", {LENET!r})\n'
      'lenet = importlib.util.module_from_spec(spec); spec.loader.exec_module(lenet)\n'
      'get_config = lenet.get_config\n'
      'def get_sweep(arg=None):\n'
      '  if arg == "metric":\n'
      '    return sweep.Sweep(points=sweep.axis("batch_size", [8]), metric="f1")\n'
      '  return sweep.Sweep(points=sweep.axis("optimizer.lr", [0.1]))\n')
  with pytest.raises(errors.ConfigError, match="Unknown metric 'f1'"):
    sweep.to_table(str(config), 'metric')
  table = sweep.to_table(str(config))
  with pytest.raises(errors.ConfigError, match="'optimizer.lr': the config has no such key"):
    reproduce.tabulate(table, seeds=1, root=str(tmp_path / 'runs'))
  assert not (tmp_path / 'runs').exists()
