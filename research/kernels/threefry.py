"""`jax.random.bernoulli`'s exact bits, written out so that XLA:CPU fuses them.

JAX lowers its Threefry-2x32 hash on the CPU as a `fori_loop` of five
iterations (short compiles): each iteration reads and writes the whole state,
so a dropout mask the size of the 2 x 512 LSTM's activations (64 x 128 x 512)
took 34 ms on the 2-core development CPU. The same 20 rounds as straight-line
code are one elementwise fusion: 1.3 ms for the same mask, the same bits.
Dropout (research/models/common.py) draws its masks here, so every model's
masks, and so its numbers, stay what `jax.random.bernoulli` gives; the tests
compare the two bit for bit (tests/test_threefry.py).

Where JAX would draw the bits some other way (another PRNG implementation,
`jax_threefry_partitionable` off, 64-bit floats, 2^32 elements or more),
`bernoulli` calls `jax.random.bernoulli` itself.
"""

from collections.abc import Sequence
import math

import jax
from jax import lax
import jax.numpy as jnp
import numpy as np

# Threefry-2x32 with 20 rounds (Salmon et al. 2011, "Parallel random numbers:
# as easy as 1, 2, 3"), as JAX computes it: the rotation constants of rounds
# 1-4 and 5-8, alternating, and the key schedule's parity constant.
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = np.uint32(0x1BD11BDA)


def _rotate_left(x, bits: int):
  return (x << np.uint32(bits)) | (x >> np.uint32(32 - bits))


def threefry2x32(key0, key1, count0, count1):
  """Threefry-2x32 of the counter pairs (count0, count1) under the key
  (key0, key1), all uint32; the two output words. Five blocks of four rounds,
  a key injection after each."""
  schedule = (key0, key1, key0 ^ key1 ^ _PARITY)
  x0, x1 = count0 + schedule[0], count1 + schedule[1]
  for block in range(5):
    for rotation in _ROTATIONS[block % 2]:
      x0 = x0 + x1
      x1 = _rotate_left(x1, rotation) ^ x0
    x0 = x0 + schedule[(block + 1) % 3]
    x1 = x1 + schedule[(block + 2) % 3] + np.uint32(block + 1)
  return x0, x1


def _threefry_key_data(key) -> jax.Array | None:
  """The key's two uint32 words where JAX would hash with Threefry-2x32 and
  partitionable counters, else None."""
  if not jax.config.jax_threefry_partitionable:
    return None
  if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
    if key.shape != () or str(jax.random.key_impl(key)) != 'threefry2x32':
      return None
    return jax.random.key_data(key)
  if (key.shape != (2,) or key.dtype != jnp.uint32
      or jax.config.jax_default_prng_impl != 'threefry2x32'):
    return None
  return key


def random_bits(key, shape: Sequence[int]) -> jax.Array | None:
  """`jax.random.bits(key, shape)` (uint32) bit for bit, or None where JAX
  would draw them another way (see the module docstring)."""
  words = _threefry_key_data(key)
  size = math.prod(shape)
  if words is None or size >= 2**32:
    return None
  # JAX's partitionable counters: the element's flat index as a 64-bit
  # number, high word first (zero below 2^32 elements). A sum of one iota per
  # axis times its stride, as JAX builds it, so that a sharded mask is
  # computed shard by shard (a reshaped flat iota is not).
  low = jnp.zeros(shape, jnp.uint32)
  for axis in range(len(shape)):
    stride = np.uint32(math.prod(shape[axis + 1:]))
    low = low + lax.broadcasted_iota(jnp.uint32, shape, axis) * stride
  bits0, bits1 = threefry2x32(words[0], words[1], jnp.zeros(shape, jnp.uint32), low)
  return bits0 ^ bits1


def bernoulli(key, p: float, shape: Sequence[int]) -> jax.Array:
  """`jax.random.bernoulli(key, p, shape)` (mode 'low'), the same booleans."""
  shape = tuple(int(d) for d in shape)
  bits = None if jax.config.jax_enable_x64 else random_bits(key, shape)
  if bits is None:
    return jax.random.bernoulli(key, p, shape)
  # As jax.random.uniform in float32: 23 random mantissa bits under the
  # exponent of 1.0, which gives a float in [1, 2); minus 1.
  floats = lax.bitcast_convert_type((bits >> np.uint32(9)) | np.uint32(0x3F800000),
                                    jnp.float32) - np.float32(1.0)
  return floats < jnp.float32(p)
