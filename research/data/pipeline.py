"""Feeding the compiled steps: device-resident arrays batched by index, or a
tf.data stream for datasets too large for memory.

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
import functools
import math
from typing import Any, Callable, Iterator

import jax
import jax.numpy as jnp
import numpy as np

from research import errors, parallel
from research.data import datasets
from research.data.registry import DATASETS


@dataclasses.dataclass(frozen=True)
class ArrayData:
  """Preprocessed splits on the host (float32 images or signals, int32 labels)."""
  train_images: np.ndarray
  train_labels: np.ndarray
  eval_images: np.ndarray
  eval_labels: np.ndarray
  num_classes: int

  @property
  def input_shape(self) -> tuple[int, ...]:
    return tuple(self.train_images.shape[1:])


def to_unit_float(inputs: np.ndarray) -> np.ndarray:
  """uint8 pixels -> float32 in [0, 1]; float inputs (signals) pass unchanged."""
  if inputs.dtype == np.uint8:
    return inputs.astype(np.float32) / 255.0
  return inputs.astype(np.float32)


def preprocess(inputs: np.ndarray, preprocess_config, mean, std) -> np.ndarray:
  """NxHxWxC uint8 images (or NxLxC float signals) -> float32, resized/padded
  as configured (images only), standardized."""
  x = to_unit_float(inputs)
  if x.ndim != 4:
    if preprocess_config.image_size is not None or preprocess_config.pad:
      raise errors.ConfigError(
          f'preprocess.image_size / pad apply to images; these inputs are {x.shape[1:]}.')
    return ((x - mean) / std).astype(np.float32)
  size = preprocess_config.image_size
  if size is not None and x.shape[1:3] != (size, size):
    cpu = jax.local_devices(backend='cpu')[0]  # this process's own
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
    # Per-channel statistics of the raw training inputs (pixels in [0, 1]).
    raw = to_unit_float(train.images)
    axes = tuple(range(raw.ndim - 1))
    mean = raw.mean(axis=axes)
    std = raw.std(axis=axes) + 1e-6
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


def _gather(data: dict[str, jax.Array], idx_B: jax.Array, sharding) -> dict[str, jax.Array]:
  batch = {k: jnp.take(v, idx_B, axis=0) for k, v in data.items()}
  return jax.lax.with_sharding_constraint(batch, sharding)


def _train_on_indices(state, data, idx_B, *, step_fn, batch_sharding):
  return step_fn(state, _gather(data, idx_B, batch_sharding))


def _eval_on_indices(state, data, idx_B, mask_B, *, eval_fn, batch_sharding):
  return eval_fn(state, _gather(data, idx_B, batch_sharding), mask_B)


def synthetic(config, input_shape, num_classes: int, num_train: int = 4096,
              num_eval: int = 1024) -> ArrayData:
  """Random standardized images and labels of a given shape (for benchmarks
  and machines without TensorFlow/TFDS)."""
  rng = np.random.default_rng(config.seed)
  return ArrayData(
      train_images=rng.standard_normal((num_train, *input_shape), np.float32),
      train_labels=rng.integers(0, num_classes, num_train).astype(np.int32),
      eval_images=rng.standard_normal((num_eval, *input_shape), np.float32),
      eval_labels=rng.integers(0, num_classes, num_eval).astype(np.int32),
      num_classes=num_classes)


def run_eval_batches(eval_fn, state, batches) -> dict[str, float]:
  """Sums of `eval_fn` over batches, accumulated on the host in float64.

  Fetching each batch's sums keeps at most one sharded computation in flight
  (back-to-back dispatch can deadlock CPU collectives) and keeps large test
  sets exact.
  """
  totals: dict[str, Any] = {}
  for args in batches:
    for k, v in jax.device_get(eval_fn(state, *args)).items():
      v = np.asarray(v, np.float64)  # A scalar, or one sum per seed (multiseed).
      totals[k] = totals.get(k, 0.0) + (float(v) if v.ndim == 0 else v)
  return totals


class ImageFeeder:
  """What every image-classification feeder shares."""
  num_classes: int

  @property
  def model_kwargs(self) -> dict[str, Any]:
    return {'num_classes': self.num_classes}

  def sync_workdir(self, workdir: str) -> None:
    del workdir  # Nothing derived from the data needs saving.

  def initial_params(self, params):
    """Freshly initialised params, completed with anything the data brings
    (text feeders: pre-trained word vectors); called inside the jitted init."""
    return params

  def run_eval(self, eval_fn, state) -> dict[str, dict[str, float]]:
    """{'test': sums} over the eval split (reported as test_* metrics)."""
    return {'test': run_eval_batches(eval_fn, state, self.eval_args())}


class InMemoryFeeder(ImageFeeder):
  """Whole preprocessed splits live on every device; steps get indices only."""

  def __init__(self, config, mesh, data: ArrayData | None = None):
    data = load(config) if data is None else data
    self.mesh = mesh
    self.num_classes = data.num_classes
    self.input_shape = data.input_shape
    self.train_size = len(data.train_labels)
    self.eval_size = len(data.eval_labels)
    self.eval_batch_size = config.eval_batch_size
    self.order = TrainOrder(self.train_size, config.batch_size, config.seed)
    self.steps_per_epoch = self.order.steps_per_epoch
    self.train_data = {'image': parallel.replicate(data.train_images, mesh),
                       'label': parallel.replicate(data.train_labels, mesh)}
    self.eval_data = {'image': parallel.replicate(data.eval_images, mesh),
                      'label': parallel.replicate(data.eval_labels, mesh)}
    self.eval_images_host = data.eval_images  # for pictures of predictions
    self.eval_labels_host = data.eval_labels

  def make_train_fn(self, step_fn: Callable, state_shardings):
    """jit(state, data, global indices) -> (state, metrics), donating state."""
    repl, batch = parallel.replicated(self.mesh), parallel.batch_sharded(self.mesh)
    return jax.jit(
        functools.partial(_train_on_indices, step_fn=step_fn, batch_sharding=batch),
        in_shardings=(state_shardings, repl, batch), out_shardings=(state_shardings, repl),
        donate_argnums=(0,))

  def train_args(self, step: int) -> tuple:
    idx = process_rows(self.order.global_indices(step))
    return self.train_data, parallel.global_batch(idx, self.mesh)

  def make_eval_fn(self, eval_fn: Callable, state_shardings):
    repl, batch = parallel.replicated(self.mesh), parallel.batch_sharded(self.mesh)
    return jax.jit(
        functools.partial(_eval_on_indices, eval_fn=eval_fn, batch_sharding=batch),
        in_shardings=(state_shardings, repl, batch, batch), out_shardings=repl)

  def eval_args(self) -> Iterator[tuple]:
    for idx, mask in eval_batches(self.eval_size, self.eval_batch_size):
      yield (self.eval_data,
             parallel.global_batch(process_rows(idx), self.mesh),
             parallel.global_batch(process_rows(mask), self.mesh))




# ImageNet channel statistics (of [0, 1] pixels), the usual constants.
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class StreamingFeeder(ImageFeeder):
  """tf.data input for datasets too large for device memory (ImageNet).

  Each process reads its own shard (`tfds.split_for_jax_process`) and feeds
  its rows of every global batch. Train images get an Inception-style random
  resized crop + flip; eval images are resized (short side = size / 0.875) and
  centre-cropped. Epoch e is shuffled with seed (seed, e); resuming mid-epoch
  skips the batches already seen in that epoch.
  """

  def __init__(self, config, mesh):
    import tensorflow_datasets as tfds

    self.mesh = mesh
    self.config = config
    self.spec = DATASETS[config.dataset.name]
    self.builder = datasets.prepare(config.dataset)
    self.num_classes = self.builder.info.features[self.spec.label_key].num_classes
    size = config.preprocess.image_size
    if size is None:
      raise errors.ConfigError('Streaming datasets need preprocess.image_size.')
    self.input_shape = (size, size, 3)
    self.local_batch = config.batch_size // jax.process_count()
    self.local_eval_batch = config.eval_batch_size // jax.process_count()
    self.train_split = tfds.split_for_jax_process(config.dataset.train_split)
    self.eval_split = tfds.split_for_jax_process(config.dataset.eval_split, drop_remainder=False)
    self.train_size = self._num_examples(config.dataset.train_split)
    self.eval_size = self._num_examples(config.dataset.eval_split)
    self.eval_batch_size = config.eval_batch_size
    self.steps_per_epoch = max(self.train_size // config.batch_size, 1)
    self._iterator, self._next_step = None, None
    self._eval_ds = self._make_eval_dataset()

  def _num_examples(self, split: str) -> int:
    try:
      return self.builder.info.splits[split].num_examples
    except KeyError:  # Under tfds.testing.mock_data the splits are unknown.
      return int(self.builder.as_dataset(split=split).cardinality())

  def _preprocess(self, example, train: bool):
    import tensorflow as tf

    size = self.input_shape[0]
    image = example[self.spec.image_key]
    if train:
      begin, crop_size, _ = tf.image.sample_distorted_bounding_box(
          tf.shape(image), tf.zeros([0, 0, 4], tf.float32), area_range=(0.08, 1.0),
          aspect_ratio_range=(3 / 4, 4 / 3), min_object_covered=0.1,
          use_image_if_no_bounding_boxes=True)
      image = tf.slice(image, begin, crop_size)
      image = tf.image.resize(image, (size, size))
      image = tf.image.random_flip_left_right(image)
    else:
      shape = tf.cast(tf.shape(image)[:2], tf.float32)
      scale = (size / 0.875) / tf.reduce_min(shape)
      image = tf.image.resize(image, tf.cast(tf.round(shape * scale), tf.int32))
      image = tf.image.resize_with_crop_or_pad(image, size, size)
    image = (tf.cast(image, tf.float32) / 255.0 - _IMAGENET_MEAN) / _IMAGENET_STD
    return {'image': image, 'label': tf.cast(example[self.spec.label_key], tf.int32)}

  def _epoch_batches(self, epoch: int, skip: int):
    import tensorflow as tf
    import tensorflow_datasets as tfds

    seed = int(np.random.default_rng([self.config.seed, epoch]).integers(2**31))
    ds = self.builder.as_dataset(
        split=self.train_split, shuffle_files=True,
        read_config=tfds.ReadConfig(shuffle_seed=seed))
    ds = ds.shuffle(16 * self.local_batch, seed=seed)
    ds = ds.map(lambda ex: self._preprocess(ex, True), num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(self.local_batch, drop_remainder=True).skip(skip)
    return iter(tfds.as_numpy(ds.prefetch(tf.data.AUTOTUNE)))

  def make_train_fn(self, step_fn: Callable, state_shardings):
    repl, batch = parallel.replicated(self.mesh), parallel.batch_sharded(self.mesh)
    return jax.jit(step_fn, in_shardings=(state_shardings, batch),
                   out_shardings=(state_shardings, repl), donate_argnums=(0,))

  def train_args(self, step: int) -> tuple:
    epoch, offset = divmod(step, self.steps_per_epoch)
    if self._next_step != step or offset == 0:
      self._iterator = self._epoch_batches(epoch, skip=offset)
    try:
      local = next(self._iterator)
    except StopIteration:  # A process's shard ran short: start the next epoch.
      self._iterator = self._epoch_batches(epoch + 1, skip=0)
      local = next(self._iterator)
    self._next_step = step + 1
    return ({k: parallel.global_batch(v, self.mesh) for k, v in local.items()},)

  def make_eval_fn(self, eval_fn: Callable, state_shardings):
    repl, batch = parallel.replicated(self.mesh), parallel.batch_sharded(self.mesh)
    return jax.jit(eval_fn, in_shardings=(state_shardings, batch, batch), out_shardings=repl)

  def _make_eval_dataset(self):
    import tensorflow as tf

    ds = self.builder.as_dataset(split=self.eval_split, shuffle_files=False)
    ds = ds.map(lambda ex: self._preprocess(ex, False), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(self.local_eval_batch).prefetch(tf.data.AUTOTUNE)

  def eval_args(self) -> Iterator[tuple]:
    import tensorflow_datasets as tfds

    # The pipeline is built once (in __init__) and re-iterated: opening the
    # dataset touches the file system, which should not race a checkpoint save.
    ds = iter(tfds.as_numpy(self._eval_ds))
    # Every process must run the same number of eval steps (its shard may be one
    # example shorter than another's): pad with masked rows.
    largest_shard = math.ceil(self.eval_size / jax.process_count())
    num_batches = math.ceil(largest_shard / self.local_eval_batch)
    for _ in range(num_batches):
      local = next(ds, None)
      n = 0 if local is None else len(local['label'])
      images = np.zeros((self.local_eval_batch, *self.input_shape), np.float32)
      labels = np.zeros((self.local_eval_batch,), np.int32)
      if n:
        images[:n], labels[:n] = local['image'], local['label']
      mask = np.arange(self.local_eval_batch) < n
      yield ({'image': parallel.global_batch(images, self.mesh),
              'label': parallel.global_batch(labels, self.mesh)},
             parallel.global_batch(mask, self.mesh))


def make_feeder(config, mesh) -> Any:
  if DATASETS[config.dataset.name].labelled_text:
    from research.data import textcls_feeding
    return textcls_feeding.TextClassificationFeeder(config, mesh)
  if DATASETS[config.dataset.name].in_memory:
    return InMemoryFeeder(config, mesh)
  return StreamingFeeder(config, mesh)
