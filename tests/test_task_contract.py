"""A new family needs only a Task (research/tasks/base.py), a model and a
config: this file plays those three files for a toy family, linear
regression on synthetic data, and runs it through the same trainer as every
family: training, checkpoints, resume, exact evaluation and seeds as one
vmapped program (what `launch.train --num_seeds=2` calls)."""

import json

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

import research.tasks
from research import config_lib, multiseed, train, writers
from research.data import feeding
from research.tasks import base

TRUE_W, TRUE_B, NOISE = np.array([2.0, -1.0, 0.5], np.float32), 0.3, 0.1


# --- research/models/: the model -------------------------------------------


class LinearRegression(nn.Module):
  """y = x . w + b."""
  use_bias: bool = True

  @nn.compact
  def __call__(self, x_BxD, train: bool = False):
    del train
    return nn.Dense(1, use_bias=self.use_bias, name='out')(x_BxD)[:, 0]


# --- research/tasks/: the family ---------------------------------------------


def _line(n: int, rng) -> tuple[np.ndarray, np.ndarray]:
  x = rng.standard_normal((n, 3)).astype(np.float32)
  return x, (x @ TRUE_W + TRUE_B + NOISE * rng.standard_normal(n)).astype(np.float32)


class LineFeeder(feeding.InMemoryFeeder):
  """Synthetic points on a noisy plane, held on the devices; the batches
  are {'image': x, 'label': y} as for every in-memory feeder."""

  @property
  def model_kwargs(self):
    return {}


def make_feeder(config, mesh):
  rng = np.random.default_rng(config.dataset.data_seed)
  (x, y), (x_test, y_test) = _line(config.dataset.num_train, rng), _line(100, rng)
  return LineFeeder(config, mesh, data=feeding.ArraySplits(
      train_inputs=x, train_labels=y, eval_inputs=x_test, eval_labels=y_test, num_classes=0))


def init_variables(model, feeder):
  return lambda rng: (model.init(rng, jnp.zeros((1, 3)))['params'], {})


def loss(params, model_state, batch, rngs, constants, step, *, model, config):
  del rngs, constants, step, config
  residual_B = model.apply({'params': params}, batch['image']) - batch['label']
  return jnp.mean(residual_B ** 2), (model_state, {'rmse': jnp.sqrt(jnp.mean(residual_B ** 2))})


def eval_step(params, model_state, batch, carry, constants, *, model, config):
  del model_state, constants, config
  squared_B = (model.apply({'params': params}, batch['image']) - batch['label']) ** 2
  weights = batch['mask'].astype(jnp.float32)
  return {'squared_sum': jnp.sum(squared_B * weights), 'count': jnp.sum(weights)}, carry


def summarize_eval(sums, prefix):
  return {f'{prefix}_mse': sums['squared_sum'] / sums['count'], f'{prefix}_examples': sums['count']}


TOY = base.Task(
    name='toy_regression', models={'linear': LinearRegression}, make_feeder=make_feeder,
    init_variables=init_variables, loss=loss, eval_step=eval_step,
    summarize_eval=summarize_eval, datasets={'synthetic_plane': None},
    best_during_training={'test_mse': min})


# --- configs/: the config --------------------------------------------------


def get_config(arg=None):
  del arg
  c = ml_collections.ConfigDict()
  c.task = 'toy_regression'
  c.seed = 0
  c.dataset = ml_collections.ConfigDict({'name': 'synthetic_plane', 'data_seed': 0,
                                         'num_train': 256})
  c.model = ml_collections.ConfigDict({'name': 'linear', 'use_bias': True})
  c.optimizer = config_lib.optimizer('sgd', learning_rate=0.1)
  c.schedule = config_lib.schedule('constant')
  c.batch_size = 32
  c.eval_batch_size = 64  # 100 test points: the last batch is padded and masked
  c.num_epochs = ml_collections.config_dict.placeholder(float)
  c.num_train_steps = 60
  c.log_every_steps = 10
  c.eval_every_steps = 20
  c.checkpoint_every_steps = 20
  c.keep_checkpoints = 5
  c.tensorboard = False
  c.plot = True
  c.lock()
  return c


@pytest.fixture(autouse=True)
def registered(monkeypatch):
  monkeypatch.setitem(research.tasks.TASKS, 'toy_regression', TOY)


def _final_params(workdir):
  from research import workdir as workdir_lib
  return workdir_lib.load_run(str(workdir)).params


def test_toy_family_trains_evaluates_and_resumes_exactly(tmp_path):
  straight = train.train_and_evaluate(get_config(), str(tmp_path / 'straight'))
  # It learned the plane: test MSE near the noise variance, weights near the truth.
  assert straight['test_examples'] == 100
  assert straight['test_mse'] < 2 * NOISE ** 2
  kernel = _final_params(tmp_path / 'straight')['out']['kernel'][:, 0]
  np.testing.assert_allclose(kernel, TRUE_W, atol=0.05)
  # The generic step logged the task's metric and its own.
  logged = [r for r in writers.read_metrics(str(tmp_path / 'straight')) if 'rmse' in r]
  assert len(logged) == 6 and {'grad_norm', 'learning_rate', 'param_norm'} <= set(logged[0])
  assert straight['best_test_mse'] <= straight['test_mse']

  # Stopped at step 20 and resumed from its checkpoint: the same numbers.
  short = get_config()
  short.num_train_steps = 20
  train.train_and_evaluate(short, str(tmp_path / 'resumed'))
  resumed = train.train_and_evaluate(get_config(), str(tmp_path / 'resumed'))
  assert resumed['test_mse'] == straight['test_mse']
  jax.tree.map(np.testing.assert_array_equal, _final_params(tmp_path / 'resumed'),
               _final_params(tmp_path / 'straight'))
  with open(tmp_path / 'resumed' / 'config.json') as f:
    assert json.load(f)['task'] == 'toy_regression'


def test_toy_family_trains_two_seeds_as_one_program(tmp_path):
  single = {s: train.train_and_evaluate(_seeded(s), str(tmp_path / f'single_{s}'))
            for s in (0, 1)}
  both = multiseed.train_and_evaluate_seeds(
      get_config(), [0, 1], [str(tmp_path / 'seeds' / f'seed_{s}') for s in (0, 1)])
  for s, result in zip((0, 1), both):
    assert result['seeds_in_program'] == 2
    np.testing.assert_allclose(result['test_mse'], single[s]['test_mse'], rtol=1e-5)
  # Different seeds, different batches: different runs.
  assert both[0]['test_mse'] != both[1]['test_mse']


def _seeded(seed):
  c = get_config()
  c.seed = seed
  return c


def test_toy_family_config_is_checked_like_any_other(tmp_path):
  from research import errors
  bad = get_config()
  bad.dataset.name = 'mnist'  # a real dataset, but not one this task reads
  with pytest.raises(errors.ConfigError, match="Unknown dataset 'mnist'"):
    train.train_and_evaluate(bad, str(tmp_path / 'bad'))
  bad = get_config()
  bad.model.unlock()
  bad.model.width = 3
  with pytest.raises(errors.ConfigError, match='no option'):
    train.train_and_evaluate(bad, str(tmp_path / 'bad'))
  assert not (tmp_path / 'bad').exists()
