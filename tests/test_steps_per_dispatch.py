"""Several training steps per dispatch (research/step.py TrainChunk): the same
numbers as one step per dispatch, for one seed and for vmapped seeds, and a
clear error where a chunk would straddle a log, eval or checkpoint step."""

import jax
import numpy as np
import pytest

from research import errors, multiseed, train, writers
from testlib import load_config, quiet


def _curve(workdir):
  skip = ('steps_per_second', 'eta_seconds')
  return [{k: v for k, v in r.items() if k not in skip} for r in writers.read_metrics(workdir)]


def test_chunks_of_steps_give_the_numbers_of_single_steps(tmp_path, capsys):
  runs = {}
  for k in (1, 10):
    config = quiet(load_config('digits_mlp'), num_train_steps=105, log_every_steps=20,
                   eval_every_steps=40, checkpoint_every_steps=20)
    runs[k] = train.train_and_evaluate(config, str(tmp_path / f'k{k}'), steps_per_dispatch=k)
  out = capsys.readouterr().out
  # 10 chunks of 10, then the 5 steps left one at a time.
  assert 'Compiled a chunk of 10 train steps' in out and 'Compiled the train step' in out
  single, chunked = _curve(str(tmp_path / 'k1')), _curve(str(tmp_path / 'k10'))
  assert [r['step'] for r in single] == [r['step'] for r in chunked]
  for a, b in zip(single, chunked):
    assert a.keys() == b.keys()
    for key in a:
      np.testing.assert_allclose(b[key], a[key], rtol=1e-6, err_msg=f'step {a["step"]} {key}')
  assert runs[10]['steps'] == 105
  np.testing.assert_allclose(runs[10]['test_loss'], runs[1]['test_loss'], rtol=1e-6)


def test_vmapped_seeds_in_chunks_equal_single_steps(tmp_path):
  results = {}
  for k in (1, 2):
    config = load_config('mnist1d', 'mlp,runlocal')
    config.plot = False
    results[k] = multiseed.train_and_evaluate_seeds(
        config, [0, 1], [str(tmp_path / f'k{k}' / f'seed_{s}') for s in (0, 1)],
        steps_per_dispatch=k)
  for single, chunked in zip(results[1], results[2]):
    for key in ('test_loss', 'test_accuracy'):
      np.testing.assert_allclose(chunked[key], single[key], rtol=1e-5)


def test_a_chunk_that_straddles_a_boundary_is_refused(tmp_path):
  config = quiet(load_config('digits_mlp'), log_every_steps=20, eval_every_steps=30,
                 checkpoint_every_steps=20)
  with pytest.raises(errors.ConfigError, match=r'must divide config\.eval_every_steps=30'):
    train.train_and_evaluate(config, str(tmp_path / 'w'), steps_per_dispatch=20)
  assert not (tmp_path / 'w').exists()


def test_the_chunk_passes_the_dataset_once_and_stacks_the_indices(tmp_path):
  from research import optim, parallel
  from research import step as step_lib
  from research.tasks import TASKS
  config = load_config('digits_mlp')
  task, mesh = TASKS[config.task], parallel.make_mesh()
  feeder = task.make_feeder(config, mesh)
  model = train.build_model(config, task, feeder)
  tx, schedule = optim.make_optimizer(config, 100)
  init_rng, _ = step_lib.run_keys(0, mesh)
  state = train.create_train_state(task, model, tx, feeder, init_rng, mesh)
  chunk = train.make_chunk(task, model, config, tx, schedule, feeder, state, None, mesh, 4)
  data, idx_KxB = chunk.args(8)
  assert data is feeder.train_args(8)[0]  # the device-resident dataset, not copied
  expected = np.stack([np.asarray(feeder.train_args(s)[1]) for s in range(8, 12)])
  np.testing.assert_array_equal(np.asarray(idx_KxB), expected)
  assert isinstance(idx_KxB, jax.Array)
