"""The digits builder's contents, preprocessing, batching and data errors."""

import os
import time

import ml_collections
import numpy as np
import pytest
import tensorflow_datasets as tfds
from sklearn import datasets as sk_datasets

from research import errors
from research.data import datasets, feeding, images
from research.data.datasets import load_split
from research.data.builders import sklearn_digits
from testlib import NetworkAccessInTest, load_config


def dataset_config(name='sklearn_digits', data_dir=None, download=True):
  return ml_collections.ConfigDict(dict(
      name=name, data_dir=data_dir, download=download, manual_dir=None,
      train_split='train', eval_split='test'))


def test_split_indices_are_a_fixed_partition():
  idx = sklearn_digits.split_indices()
  assert len(idx['train']) == 1437 and len(idx['test']) == 360
  assert np.array_equal(np.sort(np.concatenate([idx['train'], idx['test']])), np.arange(1797))
  perm = np.random.default_rng(0).permutation(1797)
  assert np.array_equal(idx['test'], np.sort(perm[:360]))


def test_builder_contents_equal_sklearn_digits():
  digits = sk_datasets.load_digits()
  idx = sklearn_digits.split_indices()
  for split in ('train', 'test'):
    data = load_split(dataset_config(), split)
    assert data.inputs.shape == (len(idx[split]), 8, 8, 1)
    assert data.inputs.dtype == np.uint8 and data.num_classes == 10
    np.testing.assert_array_equal(data.labels, digits.target[idx[split]])
    expected = np.round(digits.images[idx[split]] * 255 / 16).astype(np.uint8)
    np.testing.assert_array_equal(data.inputs[..., 0], expected)
  # All ten classes are present in the test split.
  assert set(np.unique(load_split(dataset_config(), 'test').labels)) == set(range(10))


def test_preprocess_resizes_and_standardizes():
  config = load_config('digits_lenet5')
  data = images.load(config)
  assert data.input_shape == (32, 32, 1)
  assert data.train_inputs.dtype == np.float32
  # Standardized with train statistics: bilinear resize keeps the mean.
  assert abs(float(data.train_inputs.mean())) < 0.05
  assert len(data.eval_labels) == 360


def test_pad_adds_a_background_border():
  config = load_config('digits_lenet5')
  config.preprocess.image_size = None
  config.preprocess.pad = 2
  data = images.load(config)
  assert data.input_shape == (12, 12, 1)
  border = data.train_inputs[:, 0, :, 0]
  # The border equals a raw 0 pixel after standardization.
  np.testing.assert_allclose(border, border.flat[0])


def test_train_order_is_a_permutation_per_epoch_and_deterministic():
  order = feeding.TrainOrder(num_examples=10, batch_size=3, seed=5)
  assert order.steps_per_epoch == 3
  epoch0 = np.concatenate([order.global_indices(s) for s in range(3)])
  assert len(set(epoch0.tolist())) == 9  # drop-remainder: 9 of 10, no repeats
  epoch1 = np.concatenate([order.global_indices(s) for s in range(3, 6)])
  assert not np.array_equal(epoch0, epoch1)
  # Random access (as after a resume) gives the same batches.
  fresh = feeding.TrainOrder(num_examples=10, batch_size=3, seed=5)
  np.testing.assert_array_equal(fresh.global_indices(4), order.global_indices(4))
  other_seed = feeding.TrainOrder(num_examples=10, batch_size=3, seed=6)
  assert not np.array_equal(other_seed.global_indices(0), fresh.global_indices(0))


def test_eval_batches_cover_every_example_once():
  seen = []
  for idx, mask in feeding.eval_batches(num_examples=10, batch_size=4):
    assert idx.shape == mask.shape == (4,)
    seen.extend(idx[mask].tolist())
  assert seen == list(range(10))


def test_batch_larger_than_dataset_is_an_error():
  with pytest.raises(errors.ConfigError, match='exceeds'):
    feeding.TrainOrder(num_examples=10, batch_size=11, seed=0)


def test_missing_data_dir_says_how_to_get_the_data(tmp_path):
  missing = str(tmp_path / 'nowhere')
  with pytest.raises(errors.DataNotFoundError, match='does not exist.*tfds build mnist'):
    load_split(dataset_config('mnist', data_dir=missing), 'train')


def test_unprepared_public_dataset_without_download_is_an_error(tmp_path):
  with pytest.raises(errors.DataNotFoundError, match='not prepared.*tfds build mnist'):
    load_split(dataset_config('mnist', data_dir=str(tmp_path), download=False), 'train')


def test_download_attempts_fail_at_once(tmp_path):
  # The guard in conftest: a real download would hang ~200 s here.
  start = time.perf_counter()
  with pytest.raises(errors.DataNotFoundError, match='NetworkAccessInTest'):
    load_split(dataset_config('mnist', data_dir=str(tmp_path), download=True), 'train')
  assert time.perf_counter() - start < 30
  with pytest.raises(NetworkAccessInTest):
    tfds.builder('mnist', data_dir=str(tmp_path)).download_and_prepare()


def test_public_dataset_under_mock_data():
  with tfds.testing.mock_data(num_examples=16):
    data = load_split(dataset_config('mnist'), 'train')
  assert data.inputs.shape == (16, 28, 28, 1) and data.num_classes == 10


def test_prepared_data_goes_to_the_private_dir_not_home(tfds_data_dir):
  # A dataset config without data_dir uses $TFDS_DATA_DIR, which conftest
  # points at a private directory: tests never write ~/tensorflow_datasets.
  home = os.path.expanduser('~/tensorflow_datasets')
  listing = lambda: sorted(os.listdir(home)) if os.path.isdir(home) else []
  before = listing()
  builder = datasets.prepare(dataset_config('sklearn_digits'))
  assert os.path.realpath(builder.data_dir).startswith(os.path.realpath(tfds_data_dir))
  assert listing() == before


def test_idx_builder_reads_local_files(tmp_path):
  from testlib import write_idx_dir
  arrays = write_idx_dir(str(tmp_path / 'idx'))
  os.makedirs(tmp_path / 'tfds')
  config = dataset_config('fashion_mnist_idx', data_dir=str(tmp_path / 'tfds'))
  config.manual_dir = str(tmp_path / 'idx')
  for split in ('train', 'test'):
    data = load_split(config, split)
    pixels, labels = arrays[split]
    np.testing.assert_array_equal(data.inputs[..., 0], pixels)  # same order, same pixels
    np.testing.assert_array_equal(data.labels, labels)
  from research.data.datasets import class_names
  assert class_names(config)[9] == 'Ankle boot'


def test_read_idx_known_bytes_and_errors(tmp_path):
  from research.data.builders.mnist_idx import IdxFormatError, read_idx
  from testlib import write_idx
  path = write_idx(str(tmp_path / 'a'), np.arange(6).reshape(2, 3), compress=False)
  with open(path, 'rb') as f:
    assert f.read(16) == bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 0, 1, 2, 3])
  np.testing.assert_array_equal(read_idx(path), np.arange(6).reshape(2, 3))
  with open(tmp_path / 'bad', 'wb') as f:
    f.write(b'\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02')  # says 5 bytes, has 2
  with pytest.raises(IdxFormatError, match='header says'):
    read_idx(str(tmp_path / 'bad'))
  with open(tmp_path / 'notidx', 'wb') as f:
    f.write(b'PK\x03\x04')
  with pytest.raises(IdxFormatError, match='magic'):
    read_idx(str(tmp_path / 'notidx'))


def test_idx_dataset_with_missing_directory_says_how_to_get_it(tmp_path):
  config = dataset_config('fashion_mnist_idx', data_dir=str(tmp_path))
  config.manual_dir = str(tmp_path / 'missing')
  with pytest.raises(errors.DataNotFoundError, match='apt-get install dataset-fashion-mnist'):
    load_split(config, 'train')


def test_idx_dataset_with_missing_file_is_an_error(tmp_path):
  from testlib import write_idx_dir
  write_idx_dir(str(tmp_path / 'idx'))
  os.remove(tmp_path / 'idx' / 't10k-labels-idx1-ubyte')
  os.makedirs(tmp_path / 'tfds')
  config = dataset_config('fashion_mnist_idx', data_dir=str(tmp_path / 'tfds'))
  config.manual_dir = str(tmp_path / 'idx')
  with pytest.raises(errors.DataNotFoundError, match='t10k-labels-idx1-ubyte'):
    load_split(config, 'train')


def test_image_shape_warning_known_answers():
  spec = datasets.DATASETS['mnist_idx']
  pad2 = ml_collections.ConfigDict({'image_size': None, 'pad': 2})
  assert images.model_input_shape((28, 28, 1), pad2) == (32, 32, 1)
  assert images.image_shape_warning(spec, (28, 28, 1), pad2, 'D') is None
  line = images.image_shape_warning(spec, (20, 20, 1), pad2, 'D')
  assert line == ('WARNING: the images in D are 20x20x1, not the 28x28x1 this config was '
                  'written for, so the model sees 24x24x1 instead of 32x32x1; pass '
                  '--config.preprocess.image_size=28 to resize them.')
  resized = ml_collections.ConfigDict({'image_size': 28, 'pad': 2})
  assert images.image_shape_warning(spec, (20, 20, 1), resized, 'D') is None
  assert 'convert them' in images.image_shape_warning(spec, (28, 28, 3), pad2, 'D')
  assert images.image_shape_warning(datasets.DATASETS['sklearn_digits'], (8, 8, 1), pad2,
                                    'D') is None  # No declared shape: nothing to compare.


def test_own_images_of_another_size_get_one_warning_line(tmp_path, capsys):
  from testlib import write_idx_dir
  write_idx_dir(str(tmp_path / 'idx'), size=20)
  (tmp_path / 'tfds').mkdir()
  config = load_config('mnist_lenet5', 'runlocal')
  config.dataset.name = 'mnist_idx'  # The user's own MNIST-format files.
  config.dataset.manual_dir = str(tmp_path / 'idx')
  config.dataset.data_dir = str(tmp_path / 'tfds')
  splits = images.load(config)
  assert splits.train_inputs.shape[1:] == (24, 24, 1)
  warnings = [l for l in capsys.readouterr().out.splitlines() if l.startswith('WARNING:')]
  assert len(warnings) == 1 and 'image_size=28' in warnings[0], warnings
  config.preprocess.image_size = 28
  assert images.load(config).train_inputs.shape[1:] == (32, 32, 1)
  assert 'WARNING' not in capsys.readouterr().out
