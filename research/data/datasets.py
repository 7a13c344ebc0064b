"""Loading whole (small) TFDS splits into host memory.

Every dataset is a TFDS builder: public ones (`mnist`, `fashion_mnist`,
`cifar10`, ...) are downloaded by TFDS where a network exists; the project's
own builders (`research.data.builders`) are built offline on first use.
TensorFlow/TFDS are imported only when data is actually read.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import sys

import jax
import numpy as np

from research import errors, fileio, parallel, tfimport, writers
from research.data.registry import DATASETS

_READ_CHUNK = 8192


@dataclasses.dataclass(frozen=True)
class Split:
  inputs: np.ndarray  # N x H x W x C uint8 images, or N x L x C float32 signals
  labels: np.ndarray  # N, int32
  num_classes: int


def get_builder(dataset_config):
  import tensorflow_datasets as tfds
  from research.data import builders  # noqa: F401  (registers the project builders)

  spec = DATASETS[dataset_config.name]
  data_dir = dataset_config.data_dir
  if data_dir is not None:
    fileio.check_reachable(data_dir, 'dataset.data_dir')
  if data_dir is not None and not fileio.isdir(data_dir):
    raise errors.DataNotFoundError(
        f'Data directory {data_dir!r} for dataset {dataset_config.name!r} does '
        f'not exist. {spec.how_to_get}')
  if spec.needs_manual_dir and dataset_config.manual_dir is not None:
    data_dir = source_data_dir(data_dir, dataset_config.manual_dir)
  with _tfds_quiet(show_on_error=True):  # An unprepared variant folder makes TFDS warn.
    return tfds.builder(spec.tfds_name, data_dir=data_dir,
                        **_file_format(spec, data_dir or os.environ.get('TFDS_DATA_DIR')))


def source_data_dir(data_dir: str | None, manual_dir: str) -> str:
  """Where a builder that reads local files keeps what it prepared from
  `manual_dir`: one folder per source directory, under DATA_DIR/from_files/.

  One builder serves many sources (`text_corpus` reads Debian's fortunes and
  the Penn Treebank; `labelled_text` fortunes and IMDB): prepared under TFDS's
  plain NAME/VERSION, the first source built would be read back for all others.
  The folder's name also depends on what is at the top of a local source
  (each entry's name, size and modification time): a source rewritten in
  place (more synthetic utterances, an edited captions.json) is prepared
  again instead of read back stale. A bucket's source is keyed by its path.
  """
  import hashlib

  import tensorflow_datasets as tfds
  source = os.fspath(fileio.absolute(manual_dir))
  digest = hashlib.sha256(source.encode())
  if not fileio.is_remote(source) and fileio.isdir(source):
    for entry in sorted(os.scandir(source), key=lambda e: e.name):
      stat = entry.stat()
      digest.update(f'\0{entry.name}\0{stat.st_size}\0{stat.st_mtime_ns}'.encode())
  key = digest.hexdigest()[:12]
  slug = ''.join(ch if ch.isalnum() else '_' for ch in fileio.path(source).name)[:40]
  base = data_dir or os.environ.get('TFDS_DATA_DIR') or os.path.expanduser(
      tfds.core.constants.DATA_DIR)
  return fileio.join(base, 'from_files', f'{slug}-{key}')


def _file_format(spec, data_dir: str | None) -> dict[str, str]:
  """The project's builders write ArrayRecord, read back without TensorFlow;
  in a bucket, where the ArrayRecord writer cannot write, TFRecord through
  TensorFlow's GCS client. TFDS's own builders keep their default."""
  if not spec.builds_offline:
    return {}
  if data_dir and fileio.is_remote(data_dir):
    require_tensorflow(f'Building {spec.tfds_name} into {data_dir}')
    return {'file_format': 'tfrecord'}
  return {'file_format': 'array_record'}


def _is_prepared(builder) -> bool:
  with _tfds_quiet(show_on_error=True):  # TFDS warns about a folder it has not filled yet.
    return builder.is_prepared()


@contextlib.contextmanager
def _tfds_quiet(*, show_on_error: bool):
  """Holds back TFDS's console output (its bold 'Downloading and preparing
  dataset Unknown size' line, progress bars that leave escape codes in logs,
  a warning about the folder it is about to fill). With `show_on_error`, a
  failure shows it after all before the error; otherwise the caller turns
  the failure into a one-line error of its own. Yields the captured text."""
  from absl import logging as absl_logging

  captured = io.StringIO()
  verbosity = absl_logging.get_verbosity()
  absl_logging.set_verbosity(min(verbosity, absl_logging.ERROR))  # ERROR is -2
  try:
    with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
      yield captured
  except BaseException:
    if show_on_error:
      sys.stderr.write(captured.getvalue())
    raise
  finally:
    absl_logging.set_verbosity(verbosity)


def prepare(dataset_config):
  """Returns a builder whose data is ready to read, building it if allowed."""
  import tensorflow_datasets as tfds

  spec = DATASETS[dataset_config.name]
  builder = get_builder(dataset_config)
  if _is_prepared(builder):
    return builder
  download_config = None
  if spec.needs_manual_dir:
    manual_dir = dataset_config.manual_dir
    if manual_dir is None or not fileio.isdir(manual_dir):
      raise errors.DataNotFoundError(
          f'Dataset {dataset_config.name!r} reads local files, but its directory '
          f'{manual_dir!r} does not exist. {spec.how_to_get}')
    if not [f for f in fileio.listdir(manual_dir) if not f.startswith('.')]:
      raise errors.DataNotFoundError(
          f'Dataset {dataset_config.name!r} reads local files, but its directory '
          f'{manual_dir!r} is empty. {spec.how_to_get}')
    download_config = tfds.download.DownloadConfig(manual_dir=manual_dir)
  elif not (spec.builds_offline or dataset_config.download):
    raise errors.DataNotFoundError(
        f'Dataset {dataset_config.name!r} is not prepared under '
        f'{os.path.dirname(builder.data_dir)!r} and downloading is off '
        f'(--config.dataset.download=False). {spec.how_to_get}')
  # Several processes building into one shared data dir collide on TFDS's final
  # rename: process 0 builds first; the others then find the data built (shared
  # dir) or build their own copy (a data dir per host).
  if not spec.builds_offline:
    require_tensorflow(f'Preparing {dataset_config.name!r} (a TFDS dataset)')
  writers.log(f'Preparing dataset {dataset_config.name} in {builder.data_dir} '
              '(first use only; later runs read it from there).')
  if jax.process_index() == 0:
    _download_and_prepare(builder, spec, dataset_config, download_config)
  parallel.sync_processes(f'prepare {dataset_config.name}')
  builder = get_builder(dataset_config)
  if not _is_prepared(builder):
    _download_and_prepare(builder, spec, dataset_config, download_config)
  return builder


def _download_and_prepare(builder, spec, dataset_config, download_config) -> None:
  captured = io.StringIO()
  try:
    with _tfds_quiet(show_on_error=False) as captured:
      builder.download_and_prepare(download_config=download_config)
  except (FileNotFoundError, ValueError) as e:
    if spec.needs_manual_dir:  # Missing or malformed local files.
      raise errors.DataNotFoundError(
          f'{dataset_config.name}: {str(e).rstrip(".")}. {spec.how_to_get}') from e
    sys.stderr.write(captured.getvalue())
    raise
  except Exception as e:  # Network and checksum failures come in many types.
    if spec.builds_offline:
      sys.stderr.write(captured.getvalue())
      raise
    raise errors.DataNotFoundError(
        f'Could not download/prepare {dataset_config.name!r}: '
        f'{type(e).__name__}: {e}. {spec.how_to_get}') from e


def read_columns(builder, split: str, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
  """A prepared split's features `keys` as arrays, one row per example in
  TFDS order (texts as bytes objects). ArrayRecord data (the project's own
  builders) is read through `tfds.data_source`, without TensorFlow; TFRecord
  data (TFDS's public builders) through tf.data."""
  import tensorflow_datasets as tfds

  if builder.info.file_format == tfds.core.FileFormat.ARRAY_RECORD:
    columns = {k: [] for k in keys}
    # TFDS warns that it decodes images with PIL rather than OpenCV.
    with _tfds_quiet(show_on_error=True):
      source = builder.as_data_source(split=split)
      for start in range(0, len(source), _READ_CHUNK):
        for example in source.__getitems__(range(start, min(start + _READ_CHUNK,
                                                             len(source)))):
          for k in keys:
            columns[k].append(example[k])
    return {k: (np.stack(v) if v and isinstance(v[0], np.ndarray)
                else np.asarray(v, dtype=object if v and isinstance(v[0], bytes) else None))
            for k, v in columns.items()}
  require_tensorflow(f'reading {builder.name} (TFRecord files)')
  # Read in fixed-size chunks: `batch_size=-1` aborts TF 2.21 inside
  # tfds.testing.mock_data (std::length_error from a huge batch reservation).
  ds = builder.as_dataset(split=split, batch_size=_READ_CHUNK, shuffle_files=False)
  chunks = list(tfds.as_numpy(ds))
  return {k: (np.concatenate([c[k] for c in chunks]) if chunks else np.zeros((0,)))
          for k in keys}


def examples(builder, split: str):
  """A prepared builder's split as NumPy examples, in order: through the
  ArrayRecord data source (no TensorFlow) where the builder wrote ArrayRecord,
  else through tf.data (TFDS's public datasets, written as TFRecord)."""
  import tensorflow_datasets as tfds
  if builder.info.file_format == tfds.core.FileFormat.ARRAY_RECORD:
    yield from builder.as_data_source(split=split)
    return
  require_tensorflow(f'reading {builder.name} (TFRecord files)')
  yield from tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False))


def require_tensorflow(what: str) -> None:
  """TensorFlow is needed for TFDS's public datasets (downloaded, written and
  read as TFRecord) and the streamed ImageNet pipeline; a clear error where
  it is missing."""
  import importlib.util
  if importlib.util.find_spec('tensorflow') is None:
    raise errors.DataNotFoundError(
        f'{what} needs TensorFlow, which is not installed: pip install -e ".[tf]" '
        "(the project's own datasets need no TensorFlow).")
  tfimport.import_quietly()  # Before TFDS imports it with its notices.


def load_split(dataset_config, split: str) -> Split:
  """Reads a whole split (images as uint8, labels as int32) into memory."""
  spec = DATASETS[dataset_config.name]
  builder = prepare(dataset_config)
  columns = read_columns(builder, split, (spec.input_key, spec.label_key))
  if not len(columns[spec.label_key]):
    raise errors.DataNotFoundError(f'{dataset_config.name}[{split}] is empty.')
  images = columns[spec.input_key]
  labels = columns[spec.label_key].astype(np.int32)
  num_classes = builder.info.features[spec.label_key].num_classes
  if images.ndim == 2:  # 1-D signals (MNIST-1D): N x L -> N x L x 1 channel.
    images = images[..., None]
  if images.ndim not in (3, 4) or images.shape[0] != labels.shape[0]:
    raise errors.DataNotFoundError(
        f'{dataset_config.name}[{split}] gave inputs {images.shape} and labels '
        f'{labels.shape}; expected N x H x W x C images (or N x L x C signals) and N labels.')
  return Split(inputs=images, labels=labels, num_classes=num_classes)


def class_names(dataset_config) -> list[str]:
  builder = get_builder(dataset_config)
  return list(builder.info.features[DATASETS[dataset_config.name].label_key].names)
