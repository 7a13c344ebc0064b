"""Pickled weight files read as data: numpy-only pickles and PyTorch's legacy
`torch.save` format, without torch and without running anything a file names.

A pickle is a program: `pickle.load` imports and calls whatever globals the
file names, so a downloaded pickle can run any code. The readers here resolve
only the handful of globals these formats need, each to a numpy constructor
or a stand-in that records data; any other global is refused with
`DisallowedGlobalError`, before it is imported. What they return is plain
dicts, lists and numpy arrays.

The legacy torch format (torch.save before 1.6, or with
`_use_new_zipfile_serialization=False`) is five things back to back:

  1. a pickled int, the magic number 0x1950a86a20f9469cfc6c;
  2. a pickled int, the protocol version 1001;
  3. a pickled dict of system info (byte order, C type sizes);
  4. the pickled object; each tensor is `torch._utils._rebuild_tensor_v2(
     storage, offset, size, stride, requires_grad, hooks)`, and each storage a
     persistent id `('storage', torch.FloatStorage, key, location, numel,
     view_metadata)` whose bytes come later;
  5. a pickled list of the storage keys, then for each key in that order an
     int64 element count and the storage's raw bytes.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
from typing import Any

import numpy as np


class PickleFormatError(ValueError):
  """The bytes are not the expected format, or are cut short or damaged."""


class DisallowedGlobalError(PickleFormatError):
  """The pickle names a global (a class or function to call) outside the few
  the format needs: refused, never imported."""


def _refuse(module: str, name: str, allowed) -> DisallowedGlobalError:
  return DisallowedGlobalError(
      f'the pickle names the global {module}.{name}, which this reader refuses to '
      f'import or call (it allows only {", ".join(sorted(allowed))}): not a plain '
      'weight file, or a malicious one.')


def _safe_dtype(*args):
  """numpy.dtype as a pickle calls it, minus object dtypes (whose array
  contents would be arbitrary pickled objects)."""
  dtype = np.dtype(*args)
  if dtype.hasobject:
    raise PickleFormatError(f'the pickle holds an array of dtype {dtype}: object arrays '
                            'are refused.')
  return dtype


# numpy's array-pickling helpers, taken from numpy itself rather than by the
# module path a file names (numpy.core moved to numpy._core in numpy 2).
_NUMPY_GLOBALS = {
    ('numpy', 'ndarray'): np.ndarray,
    ('numpy', 'dtype'): _safe_dtype,
    ('numpy.core.multiarray', '_reconstruct'): np.ndarray.__reduce__(np.zeros(0))[0],
    ('numpy._core.multiarray', '_reconstruct'): np.ndarray.__reduce__(np.zeros(0))[0],
}


class _NumpyUnpickler(pickle.Unpickler):

  def find_class(self, module, name):
    if (module, name) in _NUMPY_GLOBALS:
      return _NUMPY_GLOBALS[module, name]
    raise _refuse(module, name, [f'{m}.{n}' for m, n in _NUMPY_GLOBALS])

  def persistent_load(self, pid):
    raise PickleFormatError(f'the pickle refers to an external object {pid!r}.')


def load_numpy_pickle(blob: bytes) -> Any:
  """A pickle of dicts, lists, tuples, strings, numbers and numpy arrays."""
  stream = io.BytesIO(blob)
  try:
    obj = _NumpyUnpickler(stream).load()
  except PickleFormatError:
    raise
  except Exception as e:  # noqa: BLE001 (any unpickling failure is a damaged file)
    raise PickleFormatError(f'not a readable pickle ({type(e).__name__}: {e}).') from e
  if stream.tell() != len(blob):
    raise PickleFormatError(f'{len(blob) - stream.tell()} bytes follow the pickle.')
  return obj


# --- PyTorch's legacy torch.save format ----------------------------------------------

TORCH_MAGIC = 0x1950a86a20f9469cfc6c
TORCH_PROTOCOL = 1001
# Storage classes -> the little-endian dtype of their elements.
TORCH_STORAGES = {
    'ByteStorage': '|u1', 'CharStorage': '|i1', 'BoolStorage': '|b1', 'ShortStorage': '<i2',
    'IntStorage': '<i4', 'LongStorage': '<i8', 'HalfStorage': '<f2', 'FloatStorage': '<f4',
    'DoubleStorage': '<f8',
}


class _StorageType:
  def __init__(self, name: str):
    self.name, self.dtype = name, np.dtype(TORCH_STORAGES[name])


class _Storage:
  """A storage named by the main pickle; its bytes are read after it."""

  def __init__(self, key: str, dtype: np.dtype, numel: int):
    self.key, self.dtype, self.numel = key, dtype, numel
    self.array: np.ndarray | None = None


class _TensorRef:
  """A tensor, to be cut out of its storage once the storages are read."""

  def __init__(self, storage, offset, size, stride):
    self.storage, self.offset, self.size, self.stride = storage, offset, size, stride


def _rebuild_tensor(storage, storage_offset, size, stride, *unused):
  # _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])
  # and the older _rebuild_tensor(storage, offset, size, stride).
  if not isinstance(storage, (_Storage, _StorageView)):
    raise PickleFormatError('a tensor is built from something that is not a storage.')
  return _TensorRef(storage, storage_offset, tuple(size), tuple(stride))


class _StorageView:
  """A slice of a storage (persistent ids with view_metadata, torch < 0.4)."""

  def __init__(self, base: _Storage, offset: int, numel: int):
    self.base, self.offset, self.numel = base, offset, numel


_TORCH_GLOBALS = {
    ('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor,
    ('torch._utils', '_rebuild_tensor'): _rebuild_tensor,
    ('collections', 'OrderedDict'): collections.OrderedDict,
    **{('torch', name): _StorageType(name) for name in TORCH_STORAGES},
}


class _TorchUnpickler(pickle.Unpickler):

  def __init__(self, stream, storages: dict[str, _Storage]):
    super().__init__(stream)
    self._storages = storages

  def find_class(self, module, name):
    if (module, name) in _TORCH_GLOBALS:
      return _TORCH_GLOBALS[module, name]
    raise _refuse(module, name, [f'{m}.{n}' for m, n in _TORCH_GLOBALS])

  def persistent_load(self, pid):
    if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == 'storage'):
      raise PickleFormatError(f'unexpected persistent id {pid!r} (only storages are read).')
    _, storage_type, key, _location, numel, view = pid
    if not isinstance(storage_type, _StorageType) or not isinstance(numel, int):
      raise PickleFormatError(f'malformed storage id {pid!r}.')
    storage = self._storages.setdefault(key, _Storage(key, storage_type.dtype, numel))
    if storage.dtype != storage_type.dtype or storage.numel != numel:
      raise PickleFormatError(f'storage {key} is described twice, differently.')
    if view is None:
      return storage
    view_key, offset, view_numel = view  # Layout of torch < 0.4's views.
    if not 0 <= offset <= offset + view_numel <= numel:
      raise PickleFormatError(f'storage view {view_key} lies outside storage {key}.')
    return _StorageView(storage, offset, view_numel)


def _pickled(stream: io.BytesIO, what: str, unpickler: pickle.Unpickler):
  try:
    return unpickler.load()
  except PickleFormatError:
    raise
  except Exception as e:  # noqa: BLE001 (any unpickling failure is a damaged file)
    raise PickleFormatError(f'the {what} is not a readable pickle '
                            f'({type(e).__name__}: {e}).') from e


class _HeaderUnpickler(pickle.Unpickler):
  """The magic number, protocol and system info are plain ints and dicts."""

  def find_class(self, module, name):
    raise _refuse(module, name, [])


def _tensor_array(ref: _TensorRef) -> np.ndarray:
  storage, base = ref.storage, 0
  if isinstance(storage, _StorageView):
    storage, base = storage.base, storage.offset
  data = storage.array
  if any(s < 0 for s in ref.size) or any(s < 0 for s in ref.stride) or ref.offset < 0:
    raise PickleFormatError(f'a tensor has a negative size, stride or offset {ref.size}, '
                            f'{ref.stride}, {ref.offset}.')
  last = base + ref.offset + sum((n - 1) * s for n, s in zip(ref.size, ref.stride))
  if any(n == 0 for n in ref.size):
    return np.zeros(ref.size, data.dtype)
  if len(ref.size) != len(ref.stride) or last >= data.size:
    raise PickleFormatError(f'a tensor of size {ref.size} and stride {ref.stride} reaches '
                            f'past the end of its storage ({data.size} elements).')
  itemsize = data.dtype.itemsize
  view = np.lib.stride_tricks.as_strided(
      data[base + ref.offset:], shape=ref.size, strides=[s * itemsize for s in ref.stride],
      writeable=False)
  return np.array(view)


def _materialise(obj):
  if isinstance(obj, _TensorRef):
    return _tensor_array(obj)
  if isinstance(obj, dict):  # OrderedDict included: returned as a plain dict.
    return {k: _materialise(v) for k, v in obj.items()}
  if isinstance(obj, (list, tuple)):
    return type(obj)(_materialise(v) for v in obj)
  if isinstance(obj, (_Storage, _StorageView)):
    raise PickleFormatError('the file holds a bare storage, not tensors.')
  return obj


def load_legacy_torch(blob: bytes) -> Any:
  """What `torch.load` returns for a legacy-format file, with numpy arrays in
  place of tensors (containers of tensors: dicts, lists, tuples)."""
  if blob[:2] == b'PK':
    raise PickleFormatError('a zip-format torch.save file (torch >= 1.6); this reader '
                            'reads the legacy format only.')
  stream = io.BytesIO(blob)
  magic = _pickled(stream, 'magic number', _HeaderUnpickler(stream))
  if magic != TORCH_MAGIC:
    raise PickleFormatError('not a legacy torch.save file (wrong magic number).')
  protocol = _pickled(stream, 'protocol version', _HeaderUnpickler(stream))
  if protocol != TORCH_PROTOCOL:
    raise PickleFormatError(f'torch.save protocol {protocol}, this reader reads '
                            f'{TORCH_PROTOCOL}.')
  sys_info = _pickled(stream, 'system info', _HeaderUnpickler(stream))
  if not isinstance(sys_info, dict) or sys_info.get('little_endian') is not True:
    raise PickleFormatError(f'saved on a big-endian machine or without system info '
                            f'({sys_info!r}); this reader reads little-endian files.')
  storages: dict[str, _Storage] = {}
  obj = _pickled(stream, 'main object', _TorchUnpickler(stream, storages))
  keys = _pickled(stream, 'list of storage keys', _HeaderUnpickler(stream))
  if (not isinstance(keys, list) or not all(isinstance(k, str) for k in keys)
      or sorted(keys) != sorted(storages)):
    raise PickleFormatError(f'the storage keys listed ({keys!r:.200}) are not the storages '
                            f'the tensors use ({sorted(storages)!r:.200}).')
  for key in keys:
    storage = storages[key]
    header = stream.read(8)
    if len(header) != 8:
      raise PickleFormatError(f'the file ends before storage {key}: truncated.')
    (numel,) = struct.unpack('<q', header)
    if numel != storage.numel:
      raise PickleFormatError(f'storage {key} has {numel} elements, its id says '
                              f'{storage.numel}: damaged.')
    raw = stream.read(numel * storage.dtype.itemsize)
    if len(raw) != numel * storage.dtype.itemsize:
      raise PickleFormatError(f'the file ends inside storage {key}: truncated.')
    storage.array = np.frombuffer(raw, storage.dtype)
  if stream.tell() != len(blob):
    raise PickleFormatError(f'{len(blob) - stream.tell()} bytes follow the last storage.')
  try:
    return _materialise(obj)
  except (TypeError, ValueError) as e:  # sizes, strides or offsets that are not ints
    if isinstance(e, PickleFormatError):
      raise
    raise PickleFormatError(f'a tensor is described wrongly ({e}).') from e
