"""Dataset registry and loading of whole (small) splits into host memory.

Every dataset is a TFDS builder: public ones (`mnist`, `fashion_mnist`,
`cifar10`, ...) are downloaded by TFDS where a network exists; the project's
own builders (`research.data.builders`) are built offline on first use.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import tensorflow_datasets as tfds

from research import errors
from research.data import builders  # noqa: F401  (registers the project builders)


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
  tfds_name: str
  image_key: str = 'image'
  label_key: str = 'label'
  # True for project builders that need no network (they build from a package).
  builds_offline: bool = False
  how_to_get: str = ''


def _public(name: str) -> DatasetSpec:
  return DatasetSpec(
      tfds_name=name,
      how_to_get=(
          f'On a machine with network access run `tfds build {name} '
          '--data_dir=DIR` (or train once with --config.dataset.download=True), '
          'then copy DIR here and pass --config.dataset.data_dir=DIR '
          '(or set TFDS_DATA_DIR).'))


DATASETS: dict[str, DatasetSpec] = {
    'sklearn_digits': DatasetSpec(
        tfds_name='sklearn_digits', builds_offline=True,
        how_to_get='It is built from scikit-learn (`pip install scikit-learn`).'),
    'mnist': _public('mnist'),
    'fashion_mnist': _public('fashion_mnist'),
    'kmnist': _public('kmnist'),
    'cifar10': _public('cifar10'),
}


_READ_CHUNK = 8192


@dataclasses.dataclass(frozen=True)
class Split:
  images: np.ndarray  # N x H x W x C, uint8
  labels: np.ndarray  # N, int32
  num_classes: int


def get_builder(dataset_config) -> tfds.core.DatasetBuilder:
  spec = DATASETS[dataset_config.name]
  data_dir = dataset_config.data_dir
  if data_dir is not None and not os.path.isdir(data_dir):
    raise errors.DataNotFoundError(
        f'Data directory {data_dir!r} for dataset {dataset_config.name!r} does '
        f'not exist. {spec.how_to_get}')
  return tfds.builder(spec.tfds_name, data_dir=data_dir)


def prepare(dataset_config) -> tfds.core.DatasetBuilder:
  """Returns a builder whose data is ready to read, building it if allowed."""
  spec = DATASETS[dataset_config.name]
  builder = get_builder(dataset_config)
  if not builder.is_prepared():
    if not (spec.builds_offline or dataset_config.download):
      raise errors.DataNotFoundError(
          f'Dataset {dataset_config.name!r} is not prepared under '
          f'{os.path.dirname(builder.data_dir)!r} and downloading is off '
          f'(--config.dataset.download=False). {spec.how_to_get}')
    try:
      builder.download_and_prepare()
    except Exception as e:  # Network and checksum failures come in many types.
      if spec.builds_offline:
        raise
      raise errors.DataNotFoundError(
          f'Could not download/prepare {dataset_config.name!r}: '
          f'{type(e).__name__}: {e}. {spec.how_to_get}') from e
  return builder


def load_split(dataset_config, split: str) -> Split:
  """Reads a whole split (images as uint8, labels as int32) into memory."""
  spec = DATASETS[dataset_config.name]
  builder = prepare(dataset_config)
  # Read in fixed-size chunks: `batch_size=-1` aborts TF 2.21 inside
  # tfds.testing.mock_data (std::length_error from a huge batch reservation).
  ds = builder.as_dataset(split=split, batch_size=_READ_CHUNK, shuffle_files=False)
  chunks = list(tfds.as_numpy(ds))
  if not chunks:
    raise errors.DataNotFoundError(f'{dataset_config.name}[{split}] is empty.')
  images = np.concatenate([c[spec.image_key] for c in chunks])
  labels = np.concatenate([c[spec.label_key] for c in chunks]).astype(np.int32)
  num_classes = builder.info.features[spec.label_key].num_classes
  if images.ndim != 4 or images.shape[0] != labels.shape[0]:
    raise errors.DataNotFoundError(
        f'{dataset_config.name}[{split}] gave images {images.shape} and labels '
        f'{labels.shape}; expected N x H x W x C images and N labels.')
  return Split(images=images, labels=labels, num_classes=num_classes)
