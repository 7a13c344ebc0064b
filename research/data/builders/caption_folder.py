"""TFDS builder for images with human captions in a local directory.

The directory (TFDS's `manual_dir`) holds image files, in subfolders too, and
one caption file at its top that gives every captioned image one or more
captions, by the image's path relative to the directory:

- `captions.json`: `{"path/to/image.png": ["a caption", "another"], ...}`
  (a single string is one caption);
- `captions.csv`: a header row with the columns `image` and `caption` (and
  optionally `split`), then one row per caption (an image with five captions
  has five rows);
- Flickr8k / Flickr30k as distributed: `*.token.txt` / `results_*.token`
  lines `IMAGE#N<TAB>caption`, the images in any subfolder, and Flickr8k's
  `Flickr_8k.{train,dev,test}Images.txt` split lists when present.

Exactly one of these may be present. Images the caption file does not name
are ignored; a caption file naming an image that is not there, an empty
caption, or an image PIL cannot read stops the build with its name.

Each image is stored as a SIZE x SIZE RGB picture: transparent pixels
composited on white (clip art and stamps are drawn on transparency), then
the whole picture padded with white to a square and resized (bicubic), so
that no part of the drawing is cropped away. Captions are stored as written
(tokenisation belongs to the task's vocabulary).

Split: the caption file's own (`split` column; Flickr8k's lists, with `dev`
as `validation`), else stable under additions: an image is `test` when the
first byte of the sha1 of its relative path is below 52 (about 20%), else
`train`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os

import tensorflow_datasets as tfds

from research import fileio
from research.data.builders import encoding, photo_folder

SIZE = 256
CAPTION_FILES = ('captions.json', 'captions.csv')
_TEST_BELOW = 52  # of 256: the first sha1 byte of a test image's relative path
SPLITS = ('train', 'validation', 'test')
_FLICKR8K_SPLITS = {'trainImages': 'train', 'devImages': 'validation', 'testImages': 'test'}


class CaptionFileError(ValueError):
  """A caption file that cannot be used; the message names the file and what to fix."""


def hash_split(relative_path: str) -> str:
  digest = hashlib.sha1(relative_path.encode('utf-8')).digest()
  return 'test' if digest[0] < _TEST_BELOW else 'train'


def _clean(caption: str, where: str) -> str:
  text = ' '.join(str(caption).split())
  if not text:
    raise CaptionFileError(f'{where}: an empty caption. Remove the entry or write a caption')
  return text


def _key(image: str) -> str:
  """An image path as the caption file gives it -> relative, '/'-separated."""
  key = image.replace('\\', '/')
  return key[2:] if key.startswith('./') else key


def _add(captions: dict, image: str, caption: str, where: str) -> None:
  captions.setdefault(_key(image), []).append(_clean(caption, where))


def read_json(text: str, where: str) -> dict[str, list[str]]:
  try:
    data = json.loads(text)
  except json.JSONDecodeError as e:
    raise CaptionFileError(f'{where}: not valid JSON ({e})') from e
  if not isinstance(data, dict):
    raise CaptionFileError(f'{where}: expected an object {{"image path": [captions]}}, '
                           f'got a {type(data).__name__}')
  captions: dict[str, list[str]] = {}
  for image, value in data.items():
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
      raise CaptionFileError(f'{where}: {image!r} must map to a caption or a non-empty list '
                             'of captions')
    for v in values:
      _add(captions, image, v, f'{where}, {image!r}')
  return captions


def read_csv(text: str, where: str) -> tuple[dict[str, list[str]], dict[str, str]]:
  """(image -> captions, image -> split when the file has a `split` column)."""
  rows = csv.DictReader(io.StringIO(text))
  columns = rows.fieldnames or []
  if 'image' not in columns or 'caption' not in columns:
    raise CaptionFileError(f'{where}: the header must name the columns "image" and "caption" '
                           f'(and optionally "split"); it has {columns}')
  captions: dict[str, list[str]] = {}
  splits: dict[str, str] = {}
  for line, row in enumerate(rows, start=2):
    image = (row['image'] or '').strip()
    if not image:
      raise CaptionFileError(f'{where}, line {line}: no image path')
    _add(captions, image, row['caption'] or '', f'{where}, line {line}')
    if 'split' in columns:
      split = (row['split'] or '').strip()
      split = {'val': 'validation', 'dev': 'validation'}.get(split, split)
      if split not in SPLITS:
        raise CaptionFileError(f'{where}, line {line}: split {row["split"]!r}; use one of '
                               f'{", ".join(SPLITS)}')
      if splits.setdefault(_key(image), split) != split:
        raise CaptionFileError(f'{where}, line {line}: {image!r} is in two splits')
  return captions, splits


def read_flickr_tokens(text: str, where: str) -> dict[str, list[str]]:
  """Flickr8k/30k token files: `IMAGE#N<TAB>caption` per line."""
  captions: dict[str, list[str]] = {}
  for line, raw in enumerate(text.splitlines(), start=1):
    if not raw.strip():
      continue
    key, sep, caption = raw.partition('\t')
    image, hash_sign, _ = key.partition('#')
    if not sep or not hash_sign:
      raise CaptionFileError(f'{where}, line {line}: expected "IMAGE#N<TAB>caption"')
    _add(captions, image.strip(), caption, f'{where}, line {line}')
  return captions


def find_caption_file(directory: str) -> tuple[str, str]:
  """(kind, name) of the one caption file at the directory's top."""
  names = set(fileio.listdir(directory))
  found = [(n, n) for n in CAPTION_FILES if n in names]
  found += [('flickr', n) for n in sorted(names)
            if n.endswith('.token.txt') or (n.startswith('results_') and n.endswith('.token'))]
  if not found:
    raise CaptionFileError(
        f'{directory}: no caption file. Put captions.json ({{"image path": [captions]}}), '
        'captions.csv (columns image,caption[,split]) or a Flickr *.token.txt beside the images '
        '(`python -m launch.get_data tuxpaint_stamps` writes one)')
  if len(found) > 1:
    raise CaptionFileError(f'{directory}: several caption files ({", ".join(n for _, n in found)}); '
                           'keep one')
  return found[0]


def read_captions(directory: str) -> tuple[dict[str, list[str]], dict[str, str]]:
  """(image path relative to `directory` -> captions, -> split where given)."""
  kind, name = find_caption_file(directory)
  where = fileio.join(directory, name)
  text = fileio.read_bytes(where).decode('utf-8-sig')
  splits: dict[str, str] = {}
  if kind == 'captions.json':
    captions = read_json(text, where)
  elif kind == 'captions.csv':
    captions, splits = read_csv(text, where)
  else:
    captions = read_flickr_tokens(text, where)
    names = set(fileio.listdir(directory))
    for suffix, split in _FLICKR8K_SPLITS.items():
      list_name = f'Flickr_8k.{suffix}.txt'
      if list_name in names:
        listed = fileio.read_bytes(fileio.join(directory, list_name)).decode('utf-8').split()
        splits.update({image: split for image in listed})
  if not captions:
    raise CaptionFileError(f'{where}: no captions')
  return captions, splits


def locate_images(directory: str, captioned: list[str]) -> dict[str, str]:
  """Caption-file name -> the image's path relative to `directory`. Names
  are paths relative to the directory, or (Flickr's files name bare file
  names) a file name found once anywhere below it."""
  files = photo_folder.image_files(directory)
  by_path = set(files)
  by_name: dict[str, list[str]] = {}
  for f in files:
    by_name.setdefault(f.rsplit('/', 1)[-1], []).append(f)
  located, missing = {}, []
  for image in captioned:
    if image in by_path:
      located[image] = image
    elif len(by_name.get(image, ())) == 1:
      located[image] = by_name[image][0]
    else:
      missing.append(image)
  if missing:
    raise CaptionFileError(
        f'{directory}: the caption file names {len(missing)} image(s) that are not there '
        f'(or not one file of that name), e.g. {missing[:3]}. Add them or remove their captions')
  return located


def padded_rgb(data: bytes, where: str, size: int = SIZE):
  """An image file's bytes as size x size RGB: transparency on white, padded
  with white to a square, resized."""
  from PIL import Image
  image = photo_folder.open_image(data, where).convert('RGBA')
  white = Image.new('RGBA', image.size, (255, 255, 255, 255))
  image = Image.alpha_composite(white, image).convert('RGB')
  w, h = image.size
  side = max(w, h)
  square = Image.new('RGB', (side, side), (255, 255, 255))
  square.paste(image, ((side - w) // 2, (side - h) // 2))
  return square.resize((size, size), Image.Resampling.BICUBIC)


class CaptionFolder(tfds.core.GeneratorBasedBuilder):
  """Images with captions in a folder (e.g. `python -m launch.get_data tuxpaint_stamps`)."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': encoding.RELEASE_2_0_0}
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      'A directory of images and one caption file: captions.json, captions.csv or a Flickr '
      '*.token.txt (see research/data/builders/caption_folder.py).')

  def _info(self):
    return self.dataset_info_from_configs(
        description=__doc__,
        features=tfds.features.FeaturesDict({
            'image': tfds.features.Image(shape=(SIZE, SIZE, 3)),
            'image/filename': tfds.features.Text(),
            'captions': tfds.features.Sequence(tfds.features.Text()),
        }),
        disable_shuffling=True,  # in file order
    )

  def _split_generators(self, dl_manager):
    directory = os.fspath(dl_manager.manual_dir)
    try:
      captions, given = read_captions(directory)
      located = locate_images(directory, sorted(captions))
    except CaptionFileError as e:
      raise ValueError(str(e)) from e
    splits: dict[str, list[str]] = {}
    for image in sorted(captions):
      split = given.get(image) or (hash_split(located[image]) if not given else None)
      if split is None:
        continue  # a Flickr8k image in none of its lists
      splits.setdefault(split, []).append(image)
    for split in ('train', 'test'):
      if not splits.get(split):
        raise ValueError(f'{directory}: {len(captions)} captioned image(s), none of them in the '
                         f'{split} split. Add more images or give a split column')
    return {split: self._generate_examples(directory, names, located, captions)
            for split, names in splits.items()}

  def _generate_examples(self, directory, names, located, captions):
    for name in names:
      path = fileio.join(directory, located[name])
      yield located[name], {'image': padded_rgb(fileio.read_bytes(path), path),
                            'image/filename': located[name], 'captions': captions[name]}
