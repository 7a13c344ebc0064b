"""Image and signal classification data: TFDS splits -> preprocessed host
arrays (`feeding.ArraySplits`) for the in-memory feeder.

Pixels become float32 in [0, 1], are resized or padded as configured
(images only) and standardized with the training split's per-channel
statistics; 1-D signals (MNIST-1D) are standardized alike.
"""

from __future__ import annotations

import io

import jax
import jax.numpy as jnp
import numpy as np

from research import errors, fileio, writers
from research.data import datasets
from research.data.registry import DATASETS
from research.data.feeding import ArraySplits


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


def model_input_shape(image_shape: tuple[int, ...], preprocess_config) -> tuple[int, ...]:
  """The H x W x C the model sees for images of `image_shape` (resize, then pad)."""
  h, w, c = image_shape
  if preprocess_config.image_size is not None:
    h = w = preprocess_config.image_size
  pad = 2 * (preprocess_config.pad or 0)
  return (h + pad, w + pad, c)


def image_shape_warning(spec, image_shape: tuple[int, ...], preprocess_config,
                        where: str) -> str | None:
  """One line when a user's images are not the shape the config was written
  for and reach the model at another size (the model would silently grow or
  shrink its layers to fit, and stop being the paper's network); None if fine."""
  native = getattr(spec, 'image_shape', None)
  if native is None or len(image_shape) != 3 or tuple(image_shape) == native:
    return None
  got = model_input_shape(tuple(image_shape), preprocess_config)
  want = model_input_shape(native, preprocess_config)
  if got == want:
    return None
  fmt = lambda s: 'x'.join(map(str, s))
  fix = (f'pass --config.preprocess.image_size={native[0]} to resize them'
         if got[2] == want[2] else
         f'they have {image_shape[2]} channel(s), not {native[2]}: convert them')
  return (f'WARNING: the images in {where} are {fmt(image_shape)}, not the {fmt(native)} '
          f'this config was written for, so the model sees {fmt(got)} instead of '
          f'{fmt(want)}; {fix}.')


def load(config) -> ArraySplits:
  """Loads train and eval splits and preprocesses them with train statistics."""
  train = datasets.load_split(config.dataset, config.dataset.train_split)
  evals = datasets.load_split(config.dataset, config.dataset.eval_split)
  if train.inputs.shape[1:] != evals.inputs.shape[1:]:
    raise errors.DataNotFoundError(
        f'Train images {train.inputs.shape[1:]} and eval images '
        f'{evals.inputs.shape[1:]} differ in shape.')
  spec = DATASETS[config.dataset.name]
  warning = image_shape_warning(
      spec, train.inputs.shape[1:], config.preprocess,
      config.dataset.manual_dir if spec.needs_manual_dir else config.dataset.name)
  if warning:
    writers.log(warning)
  if config.preprocess.standardize:
    # Per-channel statistics of the raw training inputs (pixels in [0, 1]).
    raw = to_unit_float(train.inputs)
    axes = tuple(range(raw.ndim - 1))
    mean = raw.mean(axis=axes)
    std = raw.std(axis=axes) + 1e-6
  else:
    mean, std = np.float32(0.0), np.float32(1.0)
  return ArraySplits(
      train_inputs=preprocess(train.inputs, config.preprocess, mean, std),
      train_labels=train.labels,
      eval_inputs=preprocess(evals.inputs, config.preprocess, mean, std),
      eval_labels=evals.labels,
      num_classes=train.num_classes)


def synthetic(config, input_shape, num_classes: int, num_train: int = 4096,
              num_eval: int = 1024) -> ArraySplits:
  """Random standardized images and labels of a given shape (for benchmarks
  and machines without TensorFlow/TFDS)."""
  rng = np.random.default_rng(config.seed)
  return ArraySplits(
      train_inputs=rng.standard_normal((num_train, *input_shape), np.float32),
      train_labels=rng.integers(0, num_classes, num_train).astype(np.int32),
      eval_inputs=rng.standard_normal((num_eval, *input_shape), np.float32),
      eval_labels=rng.integers(0, num_classes, num_eval).astype(np.int32),
      num_classes=num_classes)


# Image modes PIL decodes that hold colour; grey-scale ones ('L', 'I', '1',
# 'LA', ...) are refused by read_rgb.
_COLOUR_MODES = ('RGB', 'RGBA', 'P', 'CMYK', 'YCbCr', 'RGBX')


def read_rgb(path: str, long_side: int | None, *, what: str) -> np.ndarray:
  """An image file (a photo, a painting) as float32 RGB in [0, 255], its
  longer side resized to `long_side` (bicubic, aspect kept; None: as it is).
  Grey-scale files are refused: style transfer has no colour to take from
  or give to them."""
  from PIL import Image, UnidentifiedImageError
  if not fileio.isfile(path):
    raise errors.DataNotFoundError(
        f'The {what} {path!r} does not exist. The photographs and paintings of the '
        'examples come from `python -m launch.get_data photos` and '
        '`python -m launch.get_data paintings` (into data/photos and data/paintings).')
  try:
    image = Image.open(io.BytesIO(fileio.read_bytes(path)))
    image.load()
  except (UnidentifiedImageError, OSError, SyntaxError) as e:
    if isinstance(e, OSError) and errors.system_cause(e):
      raise
    raise errors.DataError(f'The {what} {path!r} is not an image PIL can read ({e}).') from e
  if image.mode not in _COLOUR_MODES:
    raise errors.DataError(
        f'The {what} {path!r} is grey-scale (PIL mode {image.mode}); style transfer needs '
        'a colour (RGB) image.')
  image = image.convert('RGB')
  if long_side is not None:
    scale = long_side / max(image.size)
    size = (max(1, round(image.size[0] * scale)), max(1, round(image.size[1] * scale)))
    image = image.resize(size, Image.Resampling.BICUBIC)
  return np.asarray(image, np.float32)
