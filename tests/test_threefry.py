"""research/kernels/threefry.py and models.common.Dropout: the masks are
jax.random.bernoulli's / nn.Dropout's, bit for bit."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from research.kernels import threefry
from research.models.common import Dropout

SHAPES = [(), (1,), (7,), (3, 5), (64, 3, 33), (2, 1, 4, 9)]


@pytest.mark.parametrize('shape', SHAPES)
@pytest.mark.parametrize('make_key', [jax.random.key, jax.random.PRNGKey], ids=['typed', 'raw'])
def test_bits_are_jax_random_bits(shape, make_key):
  for seed in (0, 1, 2**31 + 5):
    key = make_key(seed)
    ours = jax.jit(threefry.random_bits, static_argnums=1)(key, shape)
    np.testing.assert_array_equal(ours, jax.random.bits(key, shape))


def test_threefry_known_answer():
  # Salmon et al. 2011's known-answer vectors for Threefry-2x32, 20 rounds.
  cases = [((0, 0), (0, 0), (0x6b200159, 0x99ba4efe)),
           ((0xffffffff, 0xffffffff), (0xffffffff, 0xffffffff), (0x1cb996fc, 0xbb002be7)),
           ((0x13198a2e, 0x03707344), (0x243f6a88, 0x85a308d3), (0xc4923a9c, 0x483df7a0))]
  for key, count, want in cases:
    got = threefry.threefry2x32(*(jnp.uint32(v) for v in key), *(jnp.uint32(v) for v in count))
    assert tuple(int(w) for w in got) == want


@pytest.mark.parametrize('p', [0.0, 1e-3, 0.5, 0.65, 0.9, 1.0])
def test_bernoulli_is_jax_random_bernoulli(p):
  key = jax.random.key(42)
  for shape in [(1000,), (64, 17, 3)]:
    ours = jax.jit(threefry.bernoulli, static_argnums=(1, 2))(key, p, shape)
    np.testing.assert_array_equal(ours, jax.random.bernoulli(key, p, shape))


def test_bernoulli_under_vmap():
  keys = jax.random.split(jax.random.key(3), 4)
  ours = jax.vmap(lambda k: threefry.bernoulli(k, 0.3, (50,)))(keys)
  np.testing.assert_array_equal(ours, jax.vmap(lambda k: jax.random.bernoulli(k, 0.3, (50,)))(keys))


def test_other_generators_are_left_to_jax():
  rbg = jax.random.key(0, impl='rbg')
  assert threefry.random_bits(rbg, (8,)) is None
  np.testing.assert_array_equal(threefry.bernoulli(rbg, 0.5, (100,)),
                                jax.random.bernoulli(rbg, 0.5, (100,)))
  key = jax.random.key(0)
  with jax.threefry_partitionable(False):
    assert threefry.random_bits(key, (8,)) is None
    np.testing.assert_array_equal(threefry.bernoulli(key, 0.5, (100,)),
                                  jax.random.bernoulli(key, 0.5, (100,)))
  with jax.enable_x64(True):
    np.testing.assert_array_equal(threefry.bernoulli(key, 0.5, (100,)),
                                  jax.random.bernoulli(key, 0.5, (100,)))


class _TwoDropouts(nn.Module):
  dropout: type
  broadcast_dims: tuple = ()

  @nn.compact
  def __call__(self, x, train):
    x = self.dropout(0.4, broadcast_dims=self.broadcast_dims, deterministic=not train)(x)
    x = nn.Dense(8)(x)
    x = self.dropout(0.25, deterministic=not train)(x)
    return self.dropout(1.0, deterministic=not train)(x), x


@pytest.mark.parametrize('broadcast_dims', [(), (1,), (-1,)])
def test_dropout_is_nn_dropout(broadcast_dims):
  x = jax.random.normal(jax.random.key(0), (4, 6, 8))
  outputs = {}
  for cls in (nn.Dropout, Dropout):
    model = _TwoDropouts(cls, broadcast_dims)
    params = model.init(jax.random.key(1), x, train=False)
    outputs[cls] = model.apply(params, x, train=True, rngs={'dropout': jax.random.key(2)})
    # Off (deterministic) it is the identity, as nn.Dropout.
    np.testing.assert_array_equal(model.apply(params, x, train=False)[1],
                                  _TwoDropouts(nn.Dropout).apply(params, x, train=False)[1])
  (zeros, theirs), (ours_zeros, ours) = outputs[nn.Dropout], outputs[Dropout]
  np.testing.assert_array_equal(ours, theirs)
  np.testing.assert_array_equal(ours_zeros, zeros)
  assert not np.all(ours == 0) and np.any(ours == 0)
  assert not np.any(ours_zeros)
