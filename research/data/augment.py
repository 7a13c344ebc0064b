"""Training-time augmentation as pure jnp functions, run inside the compiled step.

Each op draws its randomness from the step's 'augment' key (the run's key
folded with the step number, `research.step.step_rngs`), so a resumed run
augments exactly as an uninterrupted one would.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def random_crop(key, images_BxHxWxC, padding: int):
  """Zero-pad by `padding` and crop back at a random offset per image
  (He et al. 2016 §4.2: 4-pixel padding, 32x32 crops)."""
  b, h, w, _ = images_BxHxWxC.shape
  padded = jnp.pad(images_BxHxWxC, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
  offsets = jax.random.randint(key, (b, 2), 0, 2 * padding + 1)

  def crop(image, offset):
    return jax.lax.dynamic_slice(image, (offset[0], offset[1], 0), (h, w, image.shape[-1]))

  return jax.vmap(crop)(padded, offsets)


def random_flip(key, images_BxHxWxC):
  """Mirror each image left-right with probability 1/2."""
  flip_B = jax.random.bernoulli(key, 0.5, (images_BxHxWxC.shape[0],))
  return jnp.where(flip_B[:, None, None, None], images_BxHxWxC[:, :, ::-1, :], images_BxHxWxC)


def random_erasing(key, images_BxHxWxC, prob: float, area=(0.02, 0.4), aspect=(0.3, 3.3)):
  """Random Erasing (Zhong et al. 2020, Alg. 1): with probability `prob` set a
  rectangle of relative area in `area` and aspect ratio in `aspect` to 0 (the
  mean of standardized inputs)."""
  b, h, w, _ = images_BxHxWxC.shape
  k_apply, k_area, k_aspect, k_y, k_x = jax.random.split(key, 5)
  apply_B = jax.random.bernoulli(k_apply, prob, (b,))
  target_area = jax.random.uniform(k_area, (b,), minval=area[0], maxval=area[1]) * h * w
  log_ratio = jax.random.uniform(k_aspect, (b,), minval=jnp.log(aspect[0]), maxval=jnp.log(aspect[1]))
  ratio = jnp.exp(log_ratio)
  eh = jnp.clip(jnp.round(jnp.sqrt(target_area * ratio)), 1, h).astype(jnp.int32)
  ew = jnp.clip(jnp.round(jnp.sqrt(target_area / ratio)), 1, w).astype(jnp.int32)
  y0 = (jax.random.uniform(k_y, (b,)) * (h - eh + 1)).astype(jnp.int32)
  x0 = (jax.random.uniform(k_x, (b,)) * (w - ew + 1)).astype(jnp.int32)
  rows, cols = jnp.arange(h), jnp.arange(w)
  in_rows = (rows[None, :] >= y0[:, None]) & (rows[None, :] < (y0 + eh)[:, None])
  in_cols = (cols[None, :] >= x0[:, None]) & (cols[None, :] < (x0 + ew)[:, None])
  erase_BxHxW = in_rows[:, :, None] & in_cols[:, None, :] & apply_B[:, None, None]
  return jnp.where(erase_BxHxW[..., None], 0.0, images_BxHxWxC)


def apply(batch: dict, *, config, rng) -> dict:
  """Applies the augmentations enabled in `config` (config.augment) with this
  step's key `rng`."""
  if not (config.crop_padding or config.flip or config.erasing_prob):
    return batch
  k_crop, k_flip, k_erase = jax.random.split(rng, 3)
  images = batch['image']
  if config.crop_padding:
    images = random_crop(k_crop, images, config.crop_padding)
  if config.flip:
    images = random_flip(k_flip, images)
  if config.erasing_prob:
    images = random_erasing(k_erase, images, config.erasing_prob)
  return {**batch, 'image': images}
