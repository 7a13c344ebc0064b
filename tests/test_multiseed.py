"""Seeds trained as one vmapped program equal the same seeds trained alone."""

import json
import os

import numpy as np
import pytest

from research import errors, multiseed, reproduce, train, writers
from testlib import REPO_ROOT, file_hashes, load_config, quiet


def mlp_config(**overrides):
  # Dropout on, so each seed's step key matters, not just its init and data order.
  settings = dict(num_train_steps=30, eval_every_steps=10, log_every_steps=10,
                  checkpoint_every_steps=10)
  config = quiet(load_config('digits_mlp'), **{**settings, **overrides})
  config.model.dropout_rate = 0.2
  return config


@pytest.mark.slow
def test_vmapped_seeds_equal_single_runs(tmp_path):
  seeds = [0, 1, 2]
  together = multiseed.train_and_evaluate_seeds(
      mlp_config(), seeds, [str(tmp_path / 'vmap' / f'seed_{s}') for s in seeds])
  for seed in (0, 2):
    alone = train.train_and_evaluate(mlp_config(seed=seed), str(tmp_path / f'alone_{seed}'))
    np.testing.assert_allclose(together[seed]['test_loss'], alone['test_loss'], rtol=1e-5)
    assert together[seed]['test_accuracy'] == alone['test_accuracy']
    # The per-step training curves match too, not just the end point.
    curve = lambda d: [r['loss'] for r in writers.read_metrics(d) if 'loss' in r]
    np.testing.assert_allclose(curve(str(tmp_path / 'vmap' / f'seed_{seed}')),
                               curve(str(tmp_path / f'alone_{seed}')), rtol=1e-5)
  assert together[0]['test_loss'] != together[1]['test_loss']
  for seed in seeds:  # Each seed's workdir is a complete single-run workdir.
    workdir = tmp_path / 'vmap' / f'seed_{seed}'
    assert json.load(open(workdir / 'config.json'))['seed'] == seed
    assert json.load(open(workdir / 'results.json'))['seeds_in_program'] == 3
    assert sorted(os.listdir(workdir / 'checkpoints'))[-1] == '30'


@pytest.mark.slow
def test_extending_vmapped_seeds_resumes_from_their_checkpoints(tmp_path, capsys):
  def run(root, steps):
    config = mlp_config(num_train_steps=steps)
    config.schedule.name = 'constant'  # Does not depend on the total.
    return multiseed.train_and_evaluate_seeds(
        config, [3, 4], [str(root / 'seed_3'), str(root / 'seed_4')])

  straight = run(tmp_path / 'straight', 40)
  run(tmp_path / 'extended', 20)
  capsys.readouterr()
  extended = run(tmp_path / 'extended', 40)
  assert 'Resumed 2 seeds from step 20' in capsys.readouterr().out
  assert [r['test_loss'] for r in extended] == [r['test_loss'] for r in straight]


@pytest.mark.slow
def test_seeds_one_checkpoint_apart_resume_from_the_step_all_have(tmp_path, capsys):
  workdirs = [str(tmp_path / 'seed_0'), str(tmp_path / 'seed_1')]
  config = mlp_config(num_train_steps=20, keep_checkpoints=3)
  first = multiseed.train_and_evaluate_seeds(config, [0, 1], workdirs)
  # As if killed after seed 0 saved step 20 and before seed 1 did.
  import shutil
  shutil.rmtree(os.path.join(workdirs[1], 'checkpoints', '20'))
  capsys.readouterr()
  again = multiseed.train_and_evaluate_seeds(config, [0, 1], workdirs)
  assert 'Resumed 2 seeds from step 10' in capsys.readouterr().out
  assert [r['test_loss'] for r in again] == [r['test_loss'] for r in first]


@pytest.mark.slow
def test_a_damaged_seed_checkpoint_sends_every_seed_back_one_step(tmp_path, capsys):
  workdirs = [str(tmp_path / 'seed_0'), str(tmp_path / 'seed_1')]
  config = mlp_config(num_train_steps=20, keep_checkpoints=3)
  first = multiseed.train_and_evaluate_seeds(config, [0, 1], workdirs)
  # Seed 1's newest checkpoint cut short, as a dying disk leaves it.
  damaged_dir = os.path.join(workdirs[1], 'checkpoints', '20')
  for root, _, files in os.walk(damaged_dir):
    for f in files:
      with open(os.path.join(root, f), 'r+b') as fh:
        fh.truncate(len(fh.read()) // 2)
  damaged = file_hashes(damaged_dir)
  capsys.readouterr()
  again = multiseed.train_and_evaluate_seeds(config, [0, 1], workdirs)
  out = capsys.readouterr().out
  assert 'WARNING: checkpoint 20' in out and 'damaged' in out
  assert 'Resumed 2 seeds from step 10' in out
  (aside,) = os.listdir(os.path.join(workdirs[1], 'damaged_checkpoints'))
  assert file_hashes(os.path.join(workdirs[1], 'damaged_checkpoints', aside)) == damaged
  assert not os.path.exists(os.path.join(workdirs[0], 'damaged_checkpoints'))
  assert [r['test_loss'] for r in again] == [r['test_loss'] for r in first]
  # No common step intact on every seed: one error, nothing deleted.
  for step in ('10', '20'):
    for root, _, files in os.walk(os.path.join(workdirs[1], 'checkpoints', step)):
      for f in files:
        with open(os.path.join(root, f), 'r+b') as fh:
          fh.truncate(len(fh.read()) // 2)
  before = file_hashes(str(tmp_path))
  with pytest.raises(errors.CheckpointsDamagedError, match='No checkpoint step common'):
    multiseed.train_and_evaluate_seeds(config, [0, 1], workdirs)
  after = file_hashes(str(tmp_path))
  keep = lambda hashes: {k: v for k, v in hashes.items() if 'provenance' not in k}
  assert keep(after) == keep(before)


def test_runs_that_start_from_other_weights_are_refused_not_started_from_scratch(tmp_path):
  import ml_collections
  config = mlp_config()
  with config.unlocked():
    config.pretrained = ml_collections.ConfigDict({'name': 'squeezenet1_1',
                                                   'weights_dir': str(tmp_path)})
  with pytest.raises(errors.ConfigError, match='pretrained.name is set'):
    multiseed.train_and_evaluate_seeds(config, [0, 1], [str(tmp_path / 'a'), str(tmp_path / 'b')])
  assert not os.path.exists(tmp_path / 'a')


def test_unsupported_tasks_and_bad_seed_lists_fail_early(tmp_path):
  # A language model's token stream is not an in-memory feeder (no per-seed orders).
  with pytest.raises(errors.ConfigError, match='not held in memory'):
    multiseed.train_and_evaluate_seeds(
        load_config('fortunes_char', 'runlocal'), [0, 1], [str(tmp_path / 'a'), str(tmp_path / 'b')])
  with pytest.raises(errors.ConfigError, match='one workdir per seed'):
    multiseed.train_and_evaluate_seeds(mlp_config(), [0, 1], [str(tmp_path / 'a')])
  with pytest.raises(errors.ConfigError, match='must differ'):
    multiseed.train_and_evaluate_seeds(mlp_config(), [1, 1], [str(tmp_path / 'a'), str(tmp_path / 'b')])
  assert not os.path.exists(tmp_path / 'a')


def test_best_during_training_is_the_best_evaluation_and_its_first_step(tmp_path):
  writer = writers.MetricWriter(str(tmp_path), tensorboard=False)
  for step, acc in ((10, 0.5), (20, 0.8), (30, 0.7), (40, 0.8)):
    writer.write(step, {'test_accuracy': acc, 'test_loss': 1.0})
  writer.write(40, {'loss': 0.1})
  writer.close()
  from research.tasks import TASKS
  assert train.best_during_training(TASKS['classification'], str(tmp_path)) == {
      'best_test_accuracy': 0.8, 'best_test_accuracy_step': 20}
  assert train.best_during_training(TASKS['language_model'], str(tmp_path)) == {}


@pytest.mark.slow
def test_table_row_with_vmapped_seeds(tmp_path, monkeypatch):
  overrides = (('num_train_steps', 20), ('eval_every_steps', 10), ('tensorboard', False),
               ('plot', False))
  table = reproduce.Table(
      name='tiny_vmap', title='Digits (vmapped seeds)', metric='accuracy',
      extra_metrics=('best_accuracy',),
      rows=(reproduce.Row('MLP', 'configs/digits_mlp.py', overrides=overrides,
                          paper=90.0, source='made up for the test', vmap_seeds=True),))
  monkeypatch.setitem(reproduce.TABLES, 'tiny_vmap', table)
  serial = reproduce.run_table('tiny_vmap', seeds=2, root=str(tmp_path / 'a'), repo_root=REPO_ROOT)
  parallel = reproduce.run_table('tiny_vmap', seeds=2, root=str(tmp_path / 'b'),
                                 repo_root=REPO_ROOT, workers=2)
  strip = lambda t: [line.rsplit('|', 2)[0] for line in t.splitlines()]  # drop time columns
  assert strip(serial) == strip(parallel)
  assert 'best-during-training accuracy %' in serial and '(n=2)' in serial
  for root in ('a', 'b'):
    for seed in (0, 1):
      result = json.load(open(tmp_path / root / 'tiny_vmap' / 'mlp' / f'seed_{seed}' / 'results.json'))
      assert result['seeds_in_program'] == 2 and result['wall_seconds'] > 0
      assert result['best_test_accuracy'] >= result['test_accuracy']
  assert os.path.exists(tmp_path / 'b' / 'tiny_vmap' / 'mlp.log')
  assert os.path.exists(tmp_path / 'a' / 'tiny_vmap' / 'table.png')
