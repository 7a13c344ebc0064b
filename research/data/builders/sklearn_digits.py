"""TFDS builder for scikit-learn's bundled 8x8 handwritten digits.

The 1,797 images are the UCI "optdigits" test set (32x32 bitmaps from 13
writers, downsampled to 8x8 counts of set pixels, 0..16). scikit-learn ships
them inside its wheel, so this builder needs no network.

Split (fixed): `p = numpy.random.default_rng(0).permutation(1797)`; `test` =
the 360 examples `sorted(p[:360])`, `train` = the other 1,437, both in
scikit-learn's order (`split_indices()`). A random split mixes writers across
train and test, as most uses of this dataset do; a contiguous split (last 360
as test) is harder -- an RBF SVM drops from 99.4% to 96.4% on it. Pixels are
stored as uint8 `round(v * 255 / 16)`, so they decode like any other TFDS
image dataset.
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

from research.data.builders import encoding

NUM_TRAIN = 1437
NUM_TOTAL = 1797


def split_indices() -> dict[str, np.ndarray]:
  """The documented fixed split: example indices (sklearn order) per split."""
  perm = np.random.default_rng(0).permutation(NUM_TOTAL)
  return {'train': np.sort(perm[NUM_TOTAL - NUM_TRAIN:]),
          'test': np.sort(perm[:NUM_TOTAL - NUM_TRAIN])}


def load_digits_uint8():
  """Returns (images NxHxWx1 uint8 in 0..255, labels N int64) in sklearn order."""
  from sklearn import datasets  # Imported lazily: only the build needs it.

  digits = datasets.load_digits()
  images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
  return images, digits.target.astype(np.int64)


class SklearnDigits(tfds.core.GeneratorBasedBuilder):
  """scikit-learn's 8x8 digits (UCI optdigits), 1,437 train / 360 test."""

  VERSION = tfds.core.Version('2.0.0')
  RELEASE_NOTES = {'1.0.0': 'Fixed random 1437/360 split (seed 0), in sklearn order.',
                   '2.0.0': encoding.RELEASE_2_0_0}

  def _info(self):
    return self.dataset_info_from_configs(
        description=__doc__,
        features=tfds.features.FeaturesDict({
            'image': tfds.features.Image(shape=(8, 8, 1)),
            'label': tfds.features.ClassLabel(num_classes=10),
        }),
        supervised_keys=('image', 'label'),
        # Keep examples in scikit-learn's order on disk (TFDS otherwise orders
        # them by a hash of their keys).
        disable_shuffling=True,
        homepage='https://archive.ics.uci.edu/dataset/80',
        citation='Alpaydin & Kaynak (1998), Optical Recognition of '
        'Handwritten Digits, UCI Machine Learning Repository.',
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # Nothing to download: the data ships with scikit-learn.
    images, labels = load_digits_uint8()
    if len(images) != NUM_TOTAL:
      raise ValueError(f'Expected {NUM_TOTAL} digits, scikit-learn has {len(images)}.')
    return {split: self._generate_examples(images, labels, indices)
            for split, indices in split_indices().items()}

  def _generate_examples(self, images, labels, indices):
    for i in indices:
      yield int(i), {'image': encoding.pil_image(images[i]), 'label': int(labels[i])}
