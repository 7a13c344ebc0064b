"""Feeding labelled examples held in device memory, batched by index.

Small datasets (the digits, MNIST-sized image sets, MNIST-1D signals, word-id
rows of text classification) are preprocessed once and placed on every
device; each training step receives only the global batch's example indices
(sharded over the mesh) and gathers the rows inside the compiled step. The
host never copies examples per step.

The order of training examples is a pure function of (seed, step), the same for
any number of devices or processes. That makes resumption exact (no iterator
state to checkpoint) and the loss curve independent of the device count.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterator, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from research import errors, parallel


@dataclasses.dataclass(frozen=True)
class ArraySplits:
  """Preprocessed train and eval splits on the host: inputs (float32 images
  or signals, int32 word ids), int32 labels."""
  train_inputs: np.ndarray
  train_labels: np.ndarray
  eval_inputs: np.ndarray
  eval_labels: np.ndarray
  num_classes: int

  @property
  def input_shape(self) -> tuple[int, ...]:
    return tuple(self.train_inputs.shape[1:])


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


class RowFeeder:
  """What a feeder whose splits are dicts of arrays on every device (rows of
  examples) gives the compiled steps: training gathers the global batch's
  rows by index inside the step; evaluation covers every row once, the last
  batch padded and masked. A subclass sets `mesh`, `order` (a TrainOrder),
  `eval_batch_size`, `data` (split -> {name: replicated array}) and
  `split_sizes` (split -> rows), and overrides `gather` where a batch is not
  simply its rows (captioning: each caption row and its image's vector)."""
  mesh: Any
  order: 'TrainOrder'
  eval_batch_size: int
  data: dict[str, dict[str, Any]]
  split_sizes: dict[str, int]

  @property
  def steps_per_epoch(self) -> int:
    return self.order.steps_per_epoch

  @property
  def train_arg_shardings(self) -> tuple:
    return parallel.replicated(self.mesh), parallel.batch_sharded(self.mesh)

  @property
  def eval_arg_shardings(self) -> tuple:
    return (parallel.replicated(self.mesh), parallel.batch_sharded(self.mesh),
            parallel.batch_sharded(self.mesh))

  def gather(self, data, idx_B) -> dict[str, jax.Array]:
    return {k: jnp.take(v, idx_B, axis=0) for k, v in data.items()}

  def _batch(self, data, idx_B) -> dict[str, jax.Array]:
    return jax.lax.with_sharding_constraint(self.gather(data, idx_B),
                                            parallel.batch_sharded(self.mesh))

  def train_args(self, step: int) -> tuple:
    idx = process_rows(self.order.global_indices(step))
    return self.data['train'], parallel.global_batch(idx, self.mesh)

  def train_batch(self, data, idx_B) -> dict[str, jax.Array]:
    return self._batch(data, idx_B)

  def eval_args(self, split: str) -> Iterator[tuple]:
    for idx, mask in eval_batches(self.split_sizes[split], self.eval_batch_size):
      yield (self.data[split], parallel.global_batch(process_rows(idx), self.mesh),
             parallel.global_batch(process_rows(mask), self.mesh))

  def eval_batch(self, data, idx_B, mask_B) -> dict[str, jax.Array]:
    return {**self._batch(data, idx_B), 'mask': mask_B}

  def initial_eval_carry(self, state, split: str) -> None:
    del state, split


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


class InMemoryFeeder:
  """Whole preprocessed splits live on every device; steps get indices only.
  Batches are {'image': inputs, 'label': labels} (+ 'mask' when evaluating);
  the eval split is reported as test_* metrics."""

  eval_splits = ('test',)

  def __init__(self, config, mesh, data: ArraySplits):
    self.mesh = mesh
    self.num_classes = data.num_classes
    self.input_shape = data.input_shape
    self.train_size = len(data.train_labels)
    self.eval_size = len(data.eval_labels)
    self.eval_batch_size = config.eval_batch_size
    self.order = TrainOrder(self.train_size, config.batch_size, config.seed)
    self.steps_per_epoch = self.order.steps_per_epoch
    self.train_data = {'image': parallel.replicate(data.train_inputs, mesh),
                       'label': parallel.replicate(data.train_labels, mesh)}
    self.eval_data = {'image': parallel.replicate(data.eval_inputs, mesh),
                      'label': parallel.replicate(data.eval_labels, mesh)}
    self.eval_inputs_host = data.eval_inputs  # for pictures of predictions
    self.eval_labels_host = data.eval_labels
    repl, batch = parallel.replicated(mesh), parallel.batch_sharded(mesh)
    self._batch_sharding = batch
    self.train_arg_shardings = (repl, batch)         # data, indices
    self.eval_arg_shardings = (repl, batch, batch)   # data, indices, mask

  @property
  def model_kwargs(self) -> dict[str, Any]:
    return {'num_classes': self.num_classes}

  def _gather(self, data, idx_B):
    batch = {k: jnp.take(v, idx_B, axis=0) for k, v in data.items()}
    return jax.lax.with_sharding_constraint(batch, self._batch_sharding)

  def train_args(self, step: int) -> tuple:
    idx = process_rows(self.order.global_indices(step))
    return self.train_data, parallel.global_batch(idx, self.mesh)

  def train_batch(self, data, idx_B) -> dict[str, jax.Array]:
    return self._gather(data, idx_B)

  def eval_args(self, split: str = 'test') -> Iterator[tuple]:
    del split  # One eval split.
    for idx, mask in eval_batches(self.eval_size, self.eval_batch_size):
      yield (self.eval_data,
             parallel.global_batch(process_rows(idx), self.mesh),
             parallel.global_batch(process_rows(mask), self.mesh))

  def eval_batch(self, data, idx_B, mask_B) -> dict[str, jax.Array]:
    return {**self._gather(data, idx_B), 'mask': mask_B}

  def initial_eval_carry(self, state, split: str) -> None:
    del state, split

  def for_seeds(self, config, seeds: Sequence[int]) -> SeedFeeder:
    return SeedFeeder(self, config, seeds)


class SeedFeeder:
  """An in-memory feeder's data with one training order per seed: step s gives
  the S x B matrix of example indices (row i = what seed i's single run sees).
  Evaluation is the base feeder's: every seed scores the same batches."""

  def __init__(self, base: InMemoryFeeder, config, seeds: Sequence[int]):
    self.base = base
    self.mesh = base.mesh
    self.steps_per_epoch = base.steps_per_epoch
    self.eval_splits = base.eval_splits
    self.orders = [TrainOrder(base.train_size, config.batch_size, s) for s in seeds]
    # Seeds on no mesh axis, each seed's batch split over 'data'.
    self.index_sharding = NamedSharding(self.mesh, P(None, parallel.DATA_AXIS))
    self.train_arg_shardings = (parallel.replicated(self.mesh), self.index_sharding)
    self.seed_axes = (None, 0)  # the data is shared, the indices are per seed
    self.eval_arg_shardings = base.eval_arg_shardings
    self.eval_args, self.eval_batch = base.eval_args, base.eval_batch
    self.initial_eval_carry = base.initial_eval_carry

  @property
  def model_kwargs(self) -> dict[str, Any]:
    return self.base.model_kwargs

  def train_args(self, step: int) -> tuple:
    local_SxB = np.stack([process_rows(o.global_indices(step)) for o in self.orders])
    global_shape = (local_SxB.shape[0], local_SxB.shape[1] * jax.process_count())
    idx_SxB = jax.make_array_from_process_local_data(
        self.index_sharding, local_SxB, global_shape)
    return self.base.train_data, idx_SxB

  def train_batch(self, data, idx_B) -> dict[str, jax.Array]:
    # One seed's rows (this runs under the seeds' vmap).
    return {k: jnp.take(v, idx_B, axis=0) for k, v in data.items()}
