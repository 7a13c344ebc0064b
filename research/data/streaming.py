"""Streaming image classification input (tf.data) for datasets too large
for device memory (ImageNet)."""

from __future__ import annotations

import math
from typing import Any, Iterator

import jax
import numpy as np

from research import errors, parallel
from research.data import datasets
from research.data.registry import DATASETS


# ImageNet channel statistics (of [0, 1] pixels), the usual constants.
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class StreamingFeeder:
  """tf.data input for datasets too large for device memory (ImageNet).

  Each process reads its own shard (`tfds.split_for_jax_process`) and feeds
  its rows of every global batch. Train images get an Inception-style random
  resized crop + flip; eval images are resized (short side = size / 0.875) and
  centre-cropped. Epoch e is shuffled with seed (seed, e); resuming mid-epoch
  skips the batches already seen in that epoch. Batches arrive whole:
  `train_batch` and `eval_batch` only name them.
  """

  eval_splits = ('test',)

  def __init__(self, config, mesh):
    import tensorflow_datasets as tfds

    datasets.require_tensorflow(f'Streaming {config.dataset.name!r} (a tf.data pipeline)')
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
    batch = parallel.batch_sharded(mesh)
    self.train_arg_shardings = (batch,)
    self.eval_arg_shardings = (batch, batch)  # batch, mask

  @property
  def model_kwargs(self) -> dict[str, Any]:
    return {'num_classes': self.num_classes}

  def _num_examples(self, split: str) -> int:
    try:
      return self.builder.info.splits[split].num_examples
    except KeyError:  # Under tfds.testing.mock_data the splits are unknown.
      return int(self.builder.as_dataset(split=split).cardinality())

  def _preprocess(self, example, train: bool):
    import tensorflow as tf

    size = self.input_shape[0]
    image = example[self.spec.input_key]
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

  def _make_eval_dataset(self):
    import tensorflow as tf

    ds = self.builder.as_dataset(split=self.eval_split, shuffle_files=False)
    ds = ds.map(lambda ex: self._preprocess(ex, False), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(self.local_eval_batch).prefetch(tf.data.AUTOTUNE)

  def eval_args(self, split: str = 'test') -> Iterator[tuple]:
    import tensorflow_datasets as tfds

    del split  # One eval split.
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

  def train_batch(self, batch) -> dict[str, jax.Array]:
    return batch

  def eval_batch(self, batch, mask_B) -> dict[str, jax.Array]:
    return {**batch, 'mask': mask_B}

  def initial_eval_carry(self, state, split: str) -> None:
    del state, split
