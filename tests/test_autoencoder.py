"""Deep autoencoder (Hinton & Salakhutdinov 2006): layer-wise phases, metric,
resume, and the PCA baseline."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from research import errors, train, writers
from research import step as step_lib
from research.models.autoencoder import DeepAutoencoder
from research.tasks import autoencoder
from research.train_state import TrainState
from testlib import load_config, quiet, write_idx_dir


def tiny_state(model, tx, dim=12):
  params = model.init(jax.random.key(0), jnp.zeros((1, dim)))['params']
  return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params),
                    model_state={})


@pytest.mark.parametrize('step, trained', [
    (0, {'encoder_0', 'decoder_2'}), (5, {'encoder_1', 'decoder_1'}),
    (10, {'encoder_2', 'decoder_0'}), (15, None)])
def test_each_phase_trains_only_its_layers(step, trained):
  model = DeepAutoencoder(input_dim=12, sizes=(8, 6, 3))
  tx = optax.adam(1e-2)
  state = tiny_state(model, tx).replace(step=jnp.asarray(step, jnp.int32))
  x = jax.random.uniform(jax.random.key(1), (4, 12))
  config = ml_collections.ConfigDict({'pretrain_steps_per_layer': 5})
  step_fn = step_lib.make_train_step(autoencoder.TASK, model, config, tx,
                                     optax.constant_schedule(1e-2))
  new, metrics = jax.jit(step_fn)(state, jax.random.key(0), None, {'image': x})
  changed = {name for name in state.params
             if not all(np.array_equal(a, b) for a, b in zip(
                 jax.tree.leaves(state.params[name]), jax.tree.leaves(new.params[name])))}
  assert changed == (trained or set(state.params))
  assert float(metrics['phase']) == min(step // 5, 3)


def test_layer_loss_reconstructs_the_previous_code():
  model = DeepAutoencoder(input_dim=5, sizes=(4, 2))
  params = model.init(jax.random.key(0), jnp.zeros((1, 5)))['params']
  x = jax.random.uniform(jax.random.key(1), (3, 5))
  h0 = jax.nn.sigmoid(x @ params['encoder_0']['kernel'] + params['encoder_0']['bias'])
  code = h0 @ params['encoder_1']['kernel'] + params['encoder_1']['bias']  # linear code layer
  logits = code @ params['decoder_0']['kernel'] + params['decoder_0']['bias']
  want = -np.mean(np.sum(h0 * jax.nn.log_sigmoid(logits) + (1 - h0) * jax.nn.log_sigmoid(-logits), -1))
  got = autoencoder.layer_loss(params, x, 1, model=model)
  np.testing.assert_allclose(got, want, rtol=1e-5)


def test_eval_metric_is_squared_error_per_image():
  model = DeepAutoencoder(input_dim=4, sizes=(3, 2))
  params = model.init(jax.random.key(0), jnp.zeros((1, 4)))['params']
  state = TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=(), model_state={})
  x = jnp.array([[0.0, 1.0, 0.5, 0.2], [1.0, 1.0, 0.0, 0.0], [0.3, 0.3, 0.3, 0.3]])
  sums, _ = autoencoder.eval_step(state.params, state.model_state,
                                  {'image': x, 'mask': jnp.array([True, True, False])}, None,
                                  None, model=model, config=None)
  recon = jax.nn.sigmoid(model.apply({'params': params}, x)[0])
  want = np.sum((np.asarray(recon[:2]) - np.asarray(x[:2])) ** 2)
  np.testing.assert_allclose(sums['squared_error_sum'], want, rtol=1e-5)
  assert float(sums['count']) == 2.0


def test_pca_reconstructs_a_low_rank_set_exactly_and_beats_nothing_else():
  rng = np.random.default_rng(0)
  basis = np.linalg.qr(rng.standard_normal((10, 2)))[0].T  # 2 x 10, orthonormal
  data = rng.standard_normal((200, 2)) @ basis + 0.5
  mean, comps = autoencoder.pca_fit(data, 2)
  np.testing.assert_allclose(comps @ comps.T, np.eye(2), atol=1e-10)
  np.testing.assert_allclose(autoencoder.pca_reconstruct(data, mean, comps), data, atol=1e-9)
  mean1, comps1 = autoencoder.pca_fit(data, 1)
  assert np.abs(autoencoder.pca_reconstruct(data, mean1, comps1) - data).max() > 0.1


def ae_config(tmp_path, variant='layerwise', **overrides):
  config = quiet(load_config('fashion_mnist_autoencoder', f'{variant},runlocal'), **overrides)
  write_idx_dir(str(tmp_path / 'idx'))
  config.dataset.manual_dir = str(tmp_path / 'idx')
  config.dataset.data_dir = str(tmp_path / 'tfds')
  (tmp_path / 'tfds').mkdir(exist_ok=True)
  return config


@pytest.mark.slow
def test_resume_mid_pretraining_equals_an_uninterrupted_run(tmp_path):
  # A constant schedule: the 3-step run's schedule must not depend on its total.
  constant = {'schedule.name': 'constant'}
  straight = train.train_and_evaluate(ae_config(tmp_path, **constant), str(tmp_path / 'a'))
  train.train_and_evaluate(ae_config(tmp_path, num_train_steps=3, **constant), str(tmp_path / 'b'))
  resumed = train.train_and_evaluate(ae_config(tmp_path, **constant), str(tmp_path / 'b'))
  assert resumed['test_squared_error'] == straight['test_squared_error']
  phases = [r['phase'] for r in writers.read_metrics(str(tmp_path / 'a')) if 'phase' in r]
  assert phases[0] == 0 and phases[-1] == 4  # 4 pre-training phases, then fine-tuning


def test_pca_run_and_bad_settings(tmp_path):
  config = ae_config(tmp_path, 'pca')
  config.plot = True
  results = train.train_and_evaluate(config, str(tmp_path / 'pca'))
  assert results['test_squared_error'] > 0 and results['test_examples'] == 32
  assert (tmp_path / 'pca' / 'reconstructions.png').exists()
  bad = ae_config(tmp_path)
  bad.preprocess.standardize = True
  with pytest.raises(errors.ConfigError, match='standardize=False'):
    train.train_and_evaluate(bad, str(tmp_path / 'bad'))
  bad = ae_config(tmp_path, pretrain_steps_per_layer=-1)
  with pytest.raises(errors.ConfigError, match='pretrain_steps_per_layer'):
    train.train_and_evaluate(bad, str(tmp_path / 'bad'))


@pytest.mark.slow
def test_classifier_starts_from_the_autoencoders_encoder(tmp_path):
  from research import optim, parallel
  from research import workdir as workdir_lib
  from research.tasks import TASKS
  train.train_and_evaluate(ae_config(tmp_path, variant='e2e'), str(tmp_path / 'ae'))
  config = ae_config(tmp_path, variant='classify')
  config.init_from.workdir = str(tmp_path / 'ae')
  mesh = parallel.make_mesh()
  task = TASKS['classification']
  feeder = task.make_feeder(config, mesh)
  model = train.build_model(config, task, feeder)
  tx, _ = optim.make_optimizer(config, 6)
  fresh = train.create_train_state(task, model, tx, feeder, jax.random.key(0), mesh)
  state = train.init_from_workdir(fresh, config.init_from)
  ae_params = workdir_lib.load_run(str(tmp_path / 'ae')).params
  for k in range(4):
    for leaf in ('kernel', 'bias'):
      np.testing.assert_array_equal(state.params[f'encoder_{k}'][leaf], ae_params[f'encoder_{k}'][leaf])
  np.testing.assert_array_equal(state.params['out']['kernel'], fresh.params['out']['kernel'])
  # A code of another size does not fit: a clear error.
  other = ae_config(tmp_path, variant='classify,code=7')
  other.init_from.workdir = str(tmp_path / 'ae')
  with pytest.raises(errors.ConfigError, match="'encoder_3' has shapes"):
    train.train_and_evaluate(other, str(tmp_path / 'clf7'))
  missing = ae_config(tmp_path, variant='classify')
  missing.init_from.workdir = str(tmp_path / 'nowhere')
  with pytest.raises(errors.ConfigError, match='train it first'):
    train.train_and_evaluate(missing, str(tmp_path / 'clf'))
  assert not (tmp_path / 'clf').exists()


def test_autoencoder_refuses_text_data(tmp_path):
  config = ae_config(tmp_path)
  config.dataset.name = 'labelled_text'
  with pytest.raises(errors.ConfigError, match='not text'):
    train.train_and_evaluate(config, str(tmp_path / 'x'))
  assert not (tmp_path / 'x').exists()
