"""Helpers for `configs/*.py` and the checks every config passes at load time."""

from __future__ import annotations

import ast
from typing import Any

import ml_collections

from research import errors


def parse_arg(arg: str | None, *, positional: str | None = None,
              **defaults: Any) -> ml_collections.ConfigDict:
  """Parses `--config=file.py:key=value,flag` into a ConfigDict.

  Every accepted key must appear in `defaults` (its type is taken from the
  default); a bare `flag` means `flag=True`. With `positional='depth'`, one
  bare value that is not a key sets `depth` (`cifar10_resnet.py:56`). Unknown
  keys are an error, so a typo in the variant string fails before anything runs.
  """
  parsed = ml_collections.ConfigDict(defaults)
  if not arg:
    return parsed
  for item in arg.split(','):
    key, sep, raw = item.partition('=')
    key = key.strip()
    if not sep and key not in defaults and positional is not None:
      key, sep, raw = positional, '=', key
      positional = None  # At most one positional value.
    if key not in defaults:
      raise errors.ConfigError(
          f'Unknown config argument {key!r} in {arg!r}; '
          f'this config accepts: {", ".join(sorted(defaults))}.')
    default = defaults[key]
    if not sep:
      value: Any = True
    elif isinstance(default, bool):
      if raw.lower() not in ('true', 'false', '1', '0'):
        raise errors.ConfigError(f'Config argument {key}={raw!r} is not a bool.')
      value = raw.lower() in ('true', '1')
    elif isinstance(default, (int, float)):
      try:
        value = type(default)(ast.literal_eval(raw))
      except (ValueError, SyntaxError) as e:
        raise errors.ConfigError(
            f'Config argument {key}={raw!r} is not a {type(default).__name__}.'
        ) from e
    else:
      value = raw
    parsed[key] = value
  return parsed


def load_module(path: str):
  """A config file as a module (its get_config, and get_sweep where it has one)."""
  import importlib.util
  import os

  if not os.path.isfile(path):
    raise errors.ConfigError(f'Config file {path!r} not found.')
  module_name = 'config_' + os.path.splitext(os.path.basename(path))[0]
  spec = importlib.util.spec_from_file_location(module_name, path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def load(path: str, arg: str | None = None) -> ml_collections.ConfigDict:
  """`configs/NAME.py[:ARG]` as `--config=` loads it: get_config(arg), locked."""
  config = load_module(path).get_config(arg)
  config.lock()
  return config


def override(config: ml_collections.ConfigDict, overrides: dict[str, Any]) -> ml_collections.ConfigDict:
  """Sets dotted keys ('optimizer.learning_rate') like --config.KEY=VALUE does."""
  for key, value in overrides.items():
    node = config
    *parents, leaf = key.split('.')
    try:
      for part in parents:
        node = node[part]
      node[leaf] = value
    except (AttributeError, KeyError) as e:
      raise errors.ConfigError(f'Override {key!r}: the config has no such key.') from e
  return config


def check_choice(kind: str, name: str, choices: dict[str, Any]) -> None:
  if name not in choices:
    raise errors.ConfigError(
        f'Unknown {kind} {name!r}; known {kind}s: {", ".join(sorted(choices))}.')


# Building blocks for configs/*.py. Each returns a ConfigDict that declares
# *every* knob of its part (None where unset), so a config's `config.json` and
# `--config.KEY=...` overrides always show the complete set; configs pass only
# the values that matter to them.


def dataset(name: str, *, train_split: str = 'train', eval_split: str = 'test',
            data_dir: str | None = None, manual_dir: str | None = None,
            download: bool = True) -> ml_collections.ConfigDict:
  """`name` is a key of research.data.DATASETS.

  data_dir: TFDS data dir (None: $TFDS_DATA_DIR or ~/tensorflow_datasets).
  manual_dir: where a builder that reads local files finds them.
  download: let TFDS download public datasets that are not prepared yet.
  train_split may be a TFDS slice ('train[:10%]'). Classifiers are evaluated
  on eval_split; language models on their corpus's validation and test splits.
  """
  c = ml_collections.ConfigDict()
  c.name = name
  c.train_split = train_split
  c.eval_split = eval_split
  c.data_dir = _maybe(data_dir, str)
  c.manual_dir = _maybe(manual_dir, str)
  c.download = download
  return c


FASHION_MNIST_DEBIAN_DIR = '/usr/share/datasets/fashion-mnist'


def fashion_mnist(source: str) -> ml_collections.ConfigDict:
  """Fashion-MNIST from local IDX files ('idx': Debian's dataset-fashion-mnist
  directory by default) or from the public TFDS builder ('tfds')."""
  if source == 'idx':
    return dataset('fashion_mnist_idx', manual_dir=FASHION_MNIST_DEBIAN_DIR)
  if source == 'tfds':
    return dataset('fashion_mnist')
  raise errors.ConfigError(f"source={source!r}; use 'idx' (local IDX files) or 'tfds'.")


def text(level: str = 'char', *, max_vocab: int | None = None,
         min_count: int = 1) -> ml_collections.ConfigDict:
  """Tokens of a text corpus (research/data/lm_corpus.py): 'char' or 'word' level;
  the vocabulary is built from the train split, capped at `max_vocab` entries
  (with <unk>) and dropping tokens seen fewer than `min_count` times."""
  c = ml_collections.ConfigDict()
  c.level = level
  c.max_vocab = _maybe(max_vocab, int)
  c.min_count = min_count
  return c


def text_classification(*, max_length: int | str, lowercase: bool = True, min_count: int = 1,
                        max_vocab: int | None = None,
                        vectors_path: str | None = None) -> ml_collections.ConfigDict:
  """Word tokens of labelled texts (research/data/textcls_feeding.py): the
  vocabulary is the train split's words seen `min_count` times (at most
  `max_vocab`), every text becomes `max_length` ids (truncated or padded; 'auto':
  the length that keeps 95% of the train split's words, for a user's own data),
  and `vectors_path` names pre-trained word vectors (word2vec binary/text or
  GloVe text) for the model's `embed` table."""
  c = ml_collections.ConfigDict()
  # An int or 'auto' (so --config.text.max_length=auto parses as well as =80).
  c.max_length = ml_collections.FieldReference(max_length, field_type=object)
  c.lowercase = lowercase
  c.min_count = min_count
  c.max_vocab = _maybe(max_vocab, int)
  c.vectors_path = _maybe(vectors_path, str)
  return c


MNIST_FILES_DIR = 'data/mnist'  # where `python -m launch.get_data mnist` writes by default


def mnist(source: str) -> ml_collections.ConfigDict:
  """MNIST from LeCun's IDX files ('idx': MNIST_FILES_DIR, written offline by
  `launch.get_data mnist`) or from the public TFDS builder ('tfds', downloaded
  where a network exists). The same 60,000 / 10,000 images."""
  if source == 'idx':
    return dataset('mnist_idx', manual_dir=MNIST_FILES_DIR)
  if source == 'tfds':
    return dataset('mnist')
  raise errors.ConfigError(f"source={source!r}; use 'idx' (LeCun's IDX files) or 'tfds'.")


def kneser_ney(order: int) -> ml_collections.ConfigDict:
  """The model of task 'ngram': interpolated modified Kneser-Ney of `order`
  (research/kneser_ney.py), fitted by counting on the config's text."""
  c = ml_collections.ConfigDict()
  c.name = 'kneser_ney'
  c.order = order
  return c


FORTUNES_DEBIAN_DIR = '/usr/share/games/fortunes'


def preprocess(*, image_size: int | None = None, pad: int = 0,
               standardize: bool = True) -> ml_collections.ConfigDict:
  """Applied once to whole splits: resize (bilinear), zero-pad, standardize
  with the train split's per-channel mean/std."""
  c = ml_collections.ConfigDict()
  c.image_size = _maybe(image_size, int)
  c.pad = pad
  c.standardize = standardize
  return c


def augment(*, crop_padding: int = 0, flip: bool = False,
            erasing_prob: float = 0.0) -> ml_collections.ConfigDict:
  """Per-step training augmentation, inside the compiled step: random crop
  after `crop_padding` zero padding, horizontal flip, random erasing."""
  c = ml_collections.ConfigDict()
  c.crop_padding = crop_padding
  c.flip = flip
  c.erasing_prob = erasing_prob
  return c


def optimizer(name: str, learning_rate: float, *, momentum: float = 0.9,
              nesterov: bool = False, b1: float = 0.9, b2: float = 0.999,
              weight_decay: float = 0.0, grad_clip_norm: float | None = None,
              rho: float = 0.95, eps: float = 1e-6, memory_size: int = 10,
              linesearch_steps: int = 20, max_norm: float | None = None,
              max_norm_modules: tuple = ('out',),
              frozen_modules: tuple = ()) -> ml_collections.ConfigDict:
  """`name` in research.optim.OPTIMIZERS. momentum/nesterov: 'momentum';
  b1/b2: 'adam'/'adamw'; rho/eps: 'adadelta'; memory_size (curvature pairs
  kept) and linesearch_steps (objective evaluations per step, at most):
  'lbfgs'; weight_decay: decoupled for
  'adamw', L2 otherwise. max_norm: after every step, each output unit's weight
  vector in the kernels of `max_norm_modules` (top-level parameter names) is
  rescaled to L2 norm <= max_norm (Hinton et al. 2012; Kim 2014). The
  parameters of `frozen_modules` are not trained (e.g. ('embed',): static
  pre-trained word vectors)."""
  c = ml_collections.ConfigDict()
  c.name = name
  c.learning_rate = learning_rate
  c.momentum = momentum
  c.nesterov = nesterov
  c.b1 = b1
  c.b2 = b2
  c.rho = rho
  c.eps = eps
  c.memory_size = memory_size
  c.linesearch_steps = linesearch_steps
  c.weight_decay = weight_decay
  c.grad_clip_norm = _maybe(grad_clip_norm, float)
  c.max_norm = _maybe(max_norm, float)
  c.max_norm_modules = tuple(max_norm_modules)
  c.frozen_modules = tuple(frozen_modules)
  return c


def schedule(name: str = 'cosine', *, warmup_steps: int = 0,
             end_factor: float = 0.0, boundaries: tuple = (),
             decay_factor: float = 0.1) -> ml_collections.ConfigDict:
  """`name` in research.optim.SCHEDULES; the final lr is end_factor * lr for
  'cosine'/'linear'; 'step' multiplies by decay_factor at each fraction of
  training in `boundaries` (He et al. 2016: /10 at 50% and 75%)."""
  c = ml_collections.ConfigDict()
  c.name = name
  c.warmup_steps = warmup_steps
  c.end_factor = end_factor
  c.boundaries = tuple(boundaries)
  c.decay_factor = decay_factor
  return c


def _maybe(value, kind):
  return ml_collections.config_dict.placeholder(kind) if value is None else value
