"""From TFDS splits to device-resident arrays and per-step index batches.

Small datasets (the digits, MNIST-sized sets) are preprocessed once, placed on
every device, and batched by *index*: each training step receives only the
global batch's example indices (sharded over the mesh) and gathers the rows
inside the compiled step. The host never copies images per step.

The order of training examples is a pure function of (seed, step), the same for
any number of devices or processes. That makes resumption exact (no iterator
state to checkpoint) and the loss curve independent of the device count.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from research import errors
from research.data import datasets


@dataclasses.dataclass(frozen=True)
class ArrayData:
  """Preprocessed splits on the host (float32 images, int32 labels)."""
  train_images: np.ndarray
  train_labels: np.ndarray
  eval_images: np.ndarray
  eval_labels: np.ndarray
  num_classes: int

  @property
  def input_shape(self) -> tuple[int, ...]:
    return tuple(self.train_images.shape[1:])


def preprocess(images_uint8: np.ndarray, preprocess_config, mean, std) -> np.ndarray:
  """uint8 NxHxWxC -> float32, resized/padded as configured, standardized."""
  x = images_uint8.astype(np.float32) / 255.0
  size = preprocess_config.image_size
  if size is not None and x.shape[1:3] != (size, size):
    cpu = jax.devices('cpu')[0]
    with jax.default_device(cpu):
      x = np.asarray(jax.image.resize(
          jnp.asarray(x), (x.shape[0], size, size, x.shape[3]), 'bilinear'))
  pad = preprocess_config.pad
  if pad:
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
  return ((x - mean) / std).astype(np.float32)


def load(config) -> ArrayData:
  """Loads train and eval splits and preprocesses them with train statistics."""
  train = datasets.load_split(config.dataset, config.dataset.train_split)
  evals = datasets.load_split(config.dataset, config.dataset.eval_split)
  if train.images.shape[1:] != evals.images.shape[1:]:
    raise errors.DataNotFoundError(
        f'Train images {train.images.shape[1:]} and eval images '
        f'{evals.images.shape[1:]} differ in shape.')
  if config.preprocess.standardize:
    # Per-channel statistics of the raw training pixels (in [0, 1]).
    raw = train.images.astype(np.float32) / 255.0
    mean = raw.mean(axis=(0, 1, 2))
    std = raw.std(axis=(0, 1, 2)) + 1e-6
  else:
    mean, std = np.float32(0.0), np.float32(1.0)
  return ArrayData(
      train_images=preprocess(train.images, config.preprocess, mean, std),
      train_labels=train.labels,
      eval_images=preprocess(evals.images, config.preprocess, mean, std),
      eval_labels=evals.labels,
      num_classes=train.num_classes)


class TrainOrder:
  """The global batch of example indices for any step: epoch-wise permutations
  seeded by (seed, epoch), drop-remainder within an epoch."""

  def __init__(self, num_examples: int, batch_size: int, seed: int):
    if batch_size > num_examples:
      raise errors.ConfigError(
          f'batch_size={batch_size} exceeds the {num_examples} training examples.')
    self.num_examples = num_examples
    self.batch_size = batch_size
    self.seed = seed
    self.steps_per_epoch = num_examples // batch_size
    self._epoch = -1
    self._perm = None

  def global_indices(self, step: int) -> np.ndarray:
    epoch, offset = divmod(step, self.steps_per_epoch)
    if epoch != self._epoch:
      rng = np.random.default_rng([self.seed, epoch])
      self._perm = rng.permutation(self.num_examples).astype(np.int32)
      self._epoch = epoch
    start = offset * self.batch_size
    return self._perm[start:start + self.batch_size]


def process_rows(global_rows: np.ndarray) -> np.ndarray:
  """This process's contiguous share of a global batch (rows in process order)."""
  n, i = jax.process_count(), jax.process_index()
  per_process = len(global_rows) // n
  return global_rows[i * per_process:(i + 1) * per_process]


def eval_batches(num_examples: int, batch_size: int):
  """Yields (indices, mask) covering every example once; the last batch is
  padded with index 0 and masked out, so sums / counts are exact."""
  for start in range(0, num_examples, batch_size):
    idx = np.arange(start, start + batch_size, dtype=np.int32)
    mask = idx < num_examples
    yield np.where(mask, idx, 0).astype(np.int32), mask
