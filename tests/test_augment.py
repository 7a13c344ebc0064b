"""Augmentation ops: known answers on small images."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from research.data import augment


def ramp(b=4, h=6, w=6, c=1):
  return jnp.arange(b * h * w * c, dtype=jnp.float32).reshape(b, h, w, c) + 1.0


def test_random_crop_is_a_shifted_window_of_the_padded_image():
  x = ramp()
  out = augment.random_crop(jax.random.key(0), x, padding=2)
  assert out.shape == x.shape
  padded = np.pad(np.asarray(x), ((0, 0), (2, 2), (2, 2), (0, 0)))
  for i in range(x.shape[0]):
    windows = [padded[i, dy:dy + 6, dx:dx + 6] for dy in range(5) for dx in range(5)]
    assert any(np.array_equal(out[i], w) for w in windows)


def test_random_flip_mirrors_some_images_exactly():
  x = ramp(b=16)
  out = np.asarray(augment.random_flip(jax.random.key(1), x))
  flipped = [np.array_equal(out[i], np.asarray(x[i])[:, ::-1]) for i in range(16)]
  kept = [np.array_equal(out[i], np.asarray(x[i])) for i in range(16)]
  assert all(f or k for f, k in zip(flipped, kept))
  assert 0 < sum(flipped) < 16


def test_random_erasing_zeroes_one_rectangle_per_erased_image():
  x = ramp(b=32, h=10, w=10)
  out = np.asarray(augment.random_erasing(jax.random.key(2), x, prob=1.0))
  for i in range(32):
    zero = out[i, ..., 0] == 0
    assert zero.any()
    rows, cols = np.where(zero)
    box = zero[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    assert box.all()  # a filled rectangle
    assert 0.02 * 100 * 0.5 <= box.size <= 0.4 * 100 * 2.5  # area range, rounding slack
  assert np.array_equal(augment.random_erasing(jax.random.key(2), x, prob=0.0), x)


def test_apply_depends_on_step_and_is_identity_when_off():
  batch = {'image': ramp(b=8), 'label': jnp.arange(8)}
  on = ml_collections.ConfigDict(dict(crop_padding=2, flip=True, erasing_prob=0.5))
  off = ml_collections.ConfigDict(dict(crop_padding=0, flip=False, erasing_prob=0.0))
  key = jax.random.key(0)
  # The trainer passes the run's key folded with the step (research.step.step_rngs).
  step3, step4 = jax.random.fold_in(key, 3), jax.random.fold_in(key, 4)
  assert augment.apply(batch, config=off, rng=step3) is batch
  a = augment.apply(batch, config=on, rng=step3)['image']
  b = augment.apply(batch, config=on, rng=step3)['image']
  c = augment.apply(batch, config=on, rng=step4)['image']
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, c)
