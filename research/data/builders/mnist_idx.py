"""TFDS builder for MNIST-format IDX files in a local directory.

Reads `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
`t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte` (each optionally
`.gz`) from TFDS's `manual_dir`, so it serves MNIST, Fashion-MNIST, KMNIST and
any other dataset published in LeCun's IDX format. Unlike TFDS's own `mnist` /
`fashion_mnist` builders it checks the *content* (IDX headers, counts, label
range), not the bytes of the `.gz` files, so re-compressed copies (e.g. Debian's
`dataset-fashion-mnist`) work.

IDX format (LeCun's MNIST page): a big-endian header -- two zero bytes, a type
code (0x08 = unsigned byte), the number of dimensions -- then one big-endian
uint32 per dimension, then the data in C order.
"""

from __future__ import annotations

import dataclasses
import gzip
import zlib
import os

import numpy as np
import tensorflow_datasets as tfds

from research.data.builders import encoding

from research import fileio

FILES = {
    'train': ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
    'test': ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'),
}

CLASS_NAMES = {
    'mnist': [str(d) for d in range(10)],
    'fashion_mnist': ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
                      'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
    'kmnist': ['o', 'ki', 'su', 'tsu', 'na', 'ha', 'ma', 'ya', 're', 'wo'],
}


class IdxFormatError(ValueError):
  pass


def read_idx(path: str) -> np.ndarray:
  """Reads one IDX file of unsigned bytes (plain or gzip) into a numpy array."""
  raw = fileio.read_bytes(path)
  try:
    raw = gzip.decompress(raw) if path.endswith('.gz') else raw
  except (EOFError, OSError, zlib.error) as e:  # cut short, or not gzip at all
    raise IdxFormatError(f'{path}: cannot be decompressed ({e}); the file is truncated or '
                         'damaged: download it again.') from e
  return parse_idx(raw, path)


def parse_idx(raw: bytes, path: str) -> np.ndarray:
  """An uncompressed IDX file's bytes (unsigned bytes only) as an array;
  `path` names it in errors."""
  if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
    raise IdxFormatError(f'{path}: not an IDX file (bad magic number).')
  if raw[2] != 0x08:
    raise IdxFormatError(f'{path}: IDX type code {raw[2]:#04x}; only unsigned bytes (0x08) are supported.')
  ndim = raw[3]
  header = 4 + 4 * ndim
  shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim))
  expected = header + int(np.prod(shape))
  if len(raw) != expected:
    raise IdxFormatError(
        f'{path}: header says shape {shape} ({expected} bytes) but the file has {len(raw)}.')
  return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def find_file(directory: str, stem: str) -> str:
  for name in (stem, stem + '.gz'):
    path = fileio.join(directory, name)
    if fileio.exists(path):
      return path
  raise FileNotFoundError(f'{stem}[.gz] not found in {directory}')


def read_split(directory: str, split: str) -> tuple[np.ndarray, np.ndarray]:
  """(images N x H x W x 1 uint8, labels N int64) of one split, validated."""
  images_stem, labels_stem = FILES[split]
  images = read_idx(find_file(directory, images_stem))
  labels = read_idx(find_file(directory, labels_stem))
  if images.ndim != 3 or labels.ndim != 1:
    raise IdxFormatError(f'{directory}: expected 3-D images and 1-D labels, got '
                         f'{images.shape} and {labels.shape}.')
  if len(images) != len(labels):
    raise IdxFormatError(f'{directory}: {len(images)} {split} images but {len(labels)} labels.')
  return images[..., None], labels.astype(np.int64)


@dataclasses.dataclass
class MnistIdxConfig(tfds.core.BuilderConfig):
  class_names: tuple = ()


class MnistIdx(tfds.core.GeneratorBasedBuilder):
  """MNIST-format IDX files from a local directory (TFDS manual_dir)."""

  VERSION = tfds.core.Version('2.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release.', '2.0.0': encoding.RELEASE_2_0_0}
  BUILDER_CONFIGS = [
      MnistIdxConfig(name=name, class_names=tuple(names),
                     description=f'{name} from local IDX files.')
      for name, names in CLASS_NAMES.items()
  ]
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      'Put the four IDX files (train-images-idx3-ubyte[.gz], '
      'train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], '
      't10k-labels-idx1-ubyte[.gz]) in one directory and pass it as manual_dir.')

  def _info(self):
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            'image': tfds.features.Image(shape=(None, None, 1)),
            'label': tfds.features.ClassLabel(names=list(self.builder_config.class_names)),
        }),
        supervised_keys=('image', 'label'),
        disable_shuffling=True,  # keep the files' order
    )

  def _split_generators(self, dl_manager):
    directory = os.fspath(dl_manager.manual_dir)
    num_classes = len(self.builder_config.class_names)
    splits = {}
    for split in FILES:
      images, labels = read_split(directory, split)
      if labels.max() >= num_classes:
        raise IdxFormatError(f'{directory}: label {labels.max()} outside 0..{num_classes - 1}.')
      splits[split] = self._generate_examples(images, labels)
    return splits

  def _generate_examples(self, images, labels):
    for i, (image, label) in enumerate(zip(images, labels)):
      yield i, {'image': encoding.pil_image(image), 'label': int(label)}
