"""The MNIST-1D builder reproduces the `mnist1d` package's generator."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from research.data import builders  # noqa: F401  (registers the builders)
from research.data.builders import mnist1d as mnist1d_builder


@pytest.fixture(scope='module')
def built(tmp_path_factory):
  data_dir = str(tmp_path_factory.mktemp('tfds'))
  out = {}
  for config in ('default', 'shuffled'):
    builder = tfds.builder(f'mnist1d/{config}', data_dir=data_dir)
    builder.download_and_prepare()
    out[config] = {split: next(iter(tfds.as_numpy(builder.as_dataset(split=split, batch_size=10_000))))
                   for split in ('train', 'test')}
  return out


def test_examples_equal_the_package_generator(built):
  reference = mnist1d_builder.generate()
  train, test = built['default']['train'], built['default']['test']
  assert train['signal'].shape == (4000, 40) and test['signal'].shape == (1000, 40)
  np.testing.assert_allclose(train['signal'][:5], reference['x'][:5], rtol=1e-6)
  np.testing.assert_allclose(test['signal'][:5], reference['x_test'][:5], rtol=1e-6)
  np.testing.assert_array_equal(train['label'], reference['y'])
  np.testing.assert_array_equal(np.bincount(test['label'], minlength=10),
                                np.bincount(reference['y_test'], minlength=10))
  assert set(np.bincount(np.concatenate([train['label'], test['label']]))) == {500}


def test_shuffled_is_one_fixed_permutation_of_positions(built):
  plain, shuffled = built['default'], built['shuffled']
  x, xs = plain['train']['signal'], shuffled['train']['signal']
  np.testing.assert_array_equal(plain['train']['label'], shuffled['train']['label'])
  # Recover the permutation from the first example, then check it on all.
  perm = [int(np.argmin(np.abs(x[0] - v))) for v in xs[0]]
  assert sorted(perm) == list(range(40)) and perm != list(range(40))
  np.testing.assert_allclose(xs, x[:, perm], rtol=1e-6)
  np.testing.assert_allclose(shuffled['test']['signal'], plain['test']['signal'][:, perm], rtol=1e-6)


@pytest.mark.parametrize('variant, params', [
    ('logreg', 410), ('mlp', 15_210), ('cnn', 5_210), ('gru', 5_110)])
def test_reference_model_sizes(variant, params):
  # Greydanus 2020's reference models (notebooks/models.py): 410, 15,210, 5,210
  # and 5,134 (the GRU's PyTorch hidden biases: 2 directions x 2 x 6 more).
  import jax
  import jax.numpy as jnp

  from research import train
  from research.tasks import TASKS
  from testlib import load_config

  config = load_config('mnist1d', variant)

  class Feeder:
    model_kwargs = {'num_classes': 10}

  model = train.build_model(config, TASKS[config.task], Feeder())
  variables = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, 40, 1))))
  assert sum(x.size for x in jax.tree.leaves(variables['params'])) == params


def test_gru_classifier_reads_both_directions():
  import jax
  import numpy as np

  from research.models.rnn_classifier import RNNClassifier

  model = RNNClassifier(num_classes=3, hidden_size=4)
  x = jax.random.normal(jax.random.key(0), (2, 7, 1))
  params = model.init(jax.random.key(1), x)['params']
  base = model.apply({'params': params}, x)
  # Both directions exist, and the output depends on the first and last steps.
  assert set(params) == {'forward', 'backward', 'out'}
  for t in (0, 6):
    moved = model.apply({'params': params}, x.at[:, t].add(1.0))
    assert not np.allclose(moved, base)
