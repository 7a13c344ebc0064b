"""Model shapes and parameter counts (known answers from the papers)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from research.models import MODELS, LeNet5, Linear, MLP


def param_counts(model, input_shape):
  variables = jax.eval_shape(
      lambda: model.init(jax.random.key(0), jnp.zeros(input_shape), train=False))
  return {name: sum(int(np.prod(x.shape)) for x in jax.tree.leaves(layer))
          for name, layer in variables['params'].items()}


def test_lenet5_layer_parameter_counts():
  counts = param_counts(LeNet5(num_classes=10), (1, 32, 32, 1))
  # C1: 6*(5*5*1+1); C3: 16*(5*5*6+1) (full connectivity); C5: 120*(5*5*16+1);
  # F6: 84*(120+1); output: 10*(84+1).
  assert counts == {'C1': 156, 'C3': 2416, 'C5': 48120, 'F6': 10164, 'out': 850}
  assert sum(counts.values()) == 61706


@pytest.mark.parametrize('pooling', ['avg', 'max'])
@pytest.mark.parametrize('activation', ['tanh', 'relu', 'lecun_tanh'])
def test_lenet5_logits_shape(pooling, activation):
  model = LeNet5(num_classes=7, pooling=pooling, activation=activation)
  x = jnp.ones((3, 32, 32, 1))
  variables = model.init(jax.random.key(0), x)
  logits = model.apply(variables, x)
  assert logits.shape == (3, 7)
  assert np.all(np.isfinite(logits))


def test_lenet5_rejects_wrong_input_size():
  with pytest.raises(ValueError, match='32x32'):
    LeNet5().init(jax.random.key(0), jnp.ones((1, 28, 28, 1)))


def test_linear_is_one_affine_map():
  model = Linear(num_classes=10)
  x = jax.random.normal(jax.random.key(1), (4, 8, 8, 1))
  variables = model.init(jax.random.key(0), x)
  w, b = variables['params']['out']['kernel'], variables['params']['out']['bias']
  assert w.shape == (64, 10)
  np.testing.assert_allclose(model.apply(variables, x), x.reshape(4, 64) @ w + b,
                             rtol=1e-5, atol=1e-5)


def test_mlp_depth_and_width():
  counts = param_counts(MLP(num_classes=10, hidden_sizes=(100, 50)), (1, 8, 8, 1))
  assert counts == {'hidden_0': 64 * 100 + 100, 'hidden_1': 100 * 50 + 50, 'out': 50 * 10 + 10}


def test_mlp_dropout_only_in_training():
  model = MLP(num_classes=3, hidden_sizes=(64,), dropout_rate=0.5)
  x = jnp.ones((2, 16))
  variables = model.init(jax.random.key(0), x)
  a = model.apply(variables, x, train=False)
  b = model.apply(variables, x, train=False)
  c = model.apply(variables, x, train=True, rngs={'dropout': jax.random.key(1)})
  np.testing.assert_array_equal(a, b)
  assert not np.allclose(a, c)


# An input of each registered model's kind (abstract: jax.eval_shape computes nothing).
_SIGNAL_MODELS = ('cnn1d', 'rnn_classifier')
_IMAGENET_SIZED = ('alexnet', 'resnet', 'vgg')


@pytest.mark.parametrize('name', sorted(MODELS))
def test_every_registered_model_gives_one_logit_per_class(name):
  # What the classification task relies on: Module(num_classes=K, [vocab_size])
  # built from its default fields, applied in eval mode, gives B x K logits.
  import functools
  from research.models import TEXT_MODELS
  kwargs = {'num_classes': 7}
  if name in TEXT_MODELS:
    kwargs['vocab_size'] = 50
    x = jax.ShapeDtypeStruct((2, 12), jnp.int32)
  elif name in _SIGNAL_MODELS:
    x = jax.ShapeDtypeStruct((2, 40, 1), jnp.float32)
  else:
    size, channels = (224, 3) if name in _IMAGENET_SIZED else (32, 1)
    x = jax.ShapeDtypeStruct((2, size, size, channels), jnp.float32)
  model = MODELS[name](**kwargs)
  variables = jax.eval_shape(functools.partial(model.init, train=False), jax.random.key(0), x)
  logits = jax.eval_shape(functools.partial(model.apply, train=False), variables, x)
  assert logits.shape == (2, 7) and logits.dtype == jnp.float32


@pytest.mark.parametrize('padding', ['VALID', 'SAME'])
def test_patch_conv_equals_xla_conv(padding):
  from research.models.common import PatchConv
  import flax.linen as nn
  x = jax.random.normal(jax.random.key(0), (2, 9, 9, 3))
  ref = nn.Conv(5, (3, 3), padding=padding)
  params = ref.init(jax.random.key(1), x)
  ours = PatchConv(5, (3, 3), padding=padding)
  # Same parameter tree and same initial values, so either can load the other.
  assert jax.tree.structure(ours.init(jax.random.key(1), x)) == jax.tree.structure(params)
  np.testing.assert_allclose(ours.apply(params, x), ref.apply(params, x), rtol=1e-5, atol=1e-5)


def test_lenet5_conv_impls_agree():
  x = jax.random.normal(jax.random.key(0), (4, 32, 32, 1))
  xla, patches = LeNet5(conv_impl='xla'), LeNet5(conv_impl='patches')
  params = xla.init(jax.random.key(1), x)
  jax.tree.map(np.testing.assert_array_equal, patches.init(jax.random.key(1), x), params)
  np.testing.assert_allclose(patches.apply(params, x), xla.apply(params, x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('kind', ['avg', 'max'])
def test_pool_2x2_matches_flax_pooling(kind):
  from research.models.common import pool_2x2
  import flax.linen as nn
  x = jax.random.normal(jax.random.key(0), (2, 10, 10, 3))
  ref = {'avg': nn.avg_pool, 'max': nn.max_pool}[kind](x, (2, 2), strides=(2, 2))
  np.testing.assert_allclose(pool_2x2(x, kind), ref, rtol=1e-6)


def test_max_pool_gradient_goes_to_the_first_maximum():
  from research.models.common import pool_2x2
  import flax.linen as nn
  x = jax.random.normal(jax.random.key(0), (2, 9, 10, 3))  # odd height: a row dropped
  weights = jax.random.normal(jax.random.key(1), (2, 4, 5, 3))
  loss = lambda pool: lambda x: jnp.sum(pool(x) * weights)
  grad = jax.grad(loss(lambda x: pool_2x2(x, 'max')))
  # No ties: the same as autodiff of Flax's max pooling.
  np.testing.assert_allclose(grad(x), jax.grad(loss(
      lambda x: nn.max_pool(x, (2, 2), strides=(2, 2))))(x), rtol=1e-6)
  # Ties: all of a window's gradient to its first maximum, in row-major order.
  tied = x.at[0, 0:2, 0:2, 0].set(jnp.array([[-1.0, 2.0], [2.0, 2.0]]))
  tied = tied.at[0, 2:4, 0:2, 0].set(0.0)
  g = grad(tied)
  np.testing.assert_array_equal(g[0, 0:2, 0:2, 0], [[0, weights[0, 0, 0, 0]], [0, 0]])
  np.testing.assert_array_equal(g[0, 2:4, 0:2, 0], [[weights[0, 1, 0, 0], 0], [0, 0]])
  assert float(jnp.abs(g[:, 8]).max()) == 0.0  # the dropped row
