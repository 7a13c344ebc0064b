"""TFDS builder for a folder of photographs in a local directory.

Reads every image file (`.jpg`, `.jpeg`, `.png`, `.webp`, `.bmp`, `.tif`,
`.tiff`; any case) under TFDS's `manual_dir`, in its subfolders too, and
stores each as a 256x256 RGB image: the largest centred square, resized
(bicubic). That is the shape Johnson et al. (2016) train their style
networks on (COCO photos resized to 256x256); configs resize further with
`preprocess.image_size`. Grey-scale photos are stored as RGB (equal
channels); a file PIL cannot read stops the build with its name.

Split (stable when files are added or removed): a file is `test` when the
first byte of the sha1 of its path relative to DIR is below 26 (about 10%),
`train` otherwise. There are no classes: every example has label 0
('photo'), so the generic image pipeline (research/data/images.py) reads it.
"""

from __future__ import annotations

import hashlib
import io
import os

import tensorflow_datasets as tfds

from research import fileio
from research.data.builders import encoding

SIZE = 256
EXTENSIONS = ('.jpg', '.jpeg', '.png', '.webp', '.bmp', '.tif', '.tiff')
_TEST_BELOW = 26  # of 256: the first sha1 byte of a test file's relative path


def image_files(directory: str) -> list[str]:
  """Paths of every image file under `directory` (a local or remote
  directory), relative to it, sorted; hidden files and folders skipped."""
  return [f for f in fileio.walk_files(directory) if f.lower().endswith(EXTENSIONS)]


def split_of(relative_path: str) -> str:
  digest = hashlib.sha1(relative_path.encode('utf-8')).digest()
  return 'test' if digest[0] < _TEST_BELOW else 'train'


def open_image(data: bytes, where: str):
  """An image file's bytes as a loaded PIL image; ValueError naming `where`
  for anything PIL cannot read."""
  from PIL import Image, UnidentifiedImageError
  try:
    image = Image.open(io.BytesIO(data))
    image.load()
  except (UnidentifiedImageError, OSError, SyntaxError) as e:
    raise ValueError(f'{where}: not an image PIL can read ({e}). Remove or replace it') from e
  return image


def square_rgb(data: bytes, where: str, size: int = SIZE):
  """The largest centred square of an image file's bytes, size x size RGB."""
  from PIL import Image
  image = open_image(data, where).convert('RGB')
  w, h = image.size
  side = min(w, h)
  left, top = (w - side) // 2, (h - side) // 2
  return image.crop((left, top, left + side, top + side)).resize(
      (size, size), Image.Resampling.BICUBIC)


class PhotoFolder(tfds.core.GeneratorBasedBuilder):
  """A folder of photographs (e.g. `python -m launch.get_data photo_collection`)."""

  VERSION = tfds.core.Version('2.0.0')
  RELEASE_NOTES = {'2.0.0': encoding.RELEASE_2_0_0}
  MANUAL_DOWNLOAD_INSTRUCTIONS = 'A directory of photographs (any image files, any subfolders).'

  def _info(self):
    return self.dataset_info_from_configs(
        description=__doc__,
        features=tfds.features.FeaturesDict({
            'image': tfds.features.Image(shape=(SIZE, SIZE, 3)),
            'label': tfds.features.ClassLabel(names=['photo']),
        }),
        supervised_keys=('image', 'label'),
        disable_shuffling=True,  # in file order
    )

  def _split_generators(self, dl_manager):
    directory = os.fspath(dl_manager.manual_dir)
    files = image_files(directory)
    if not files:
      raise ValueError(f'{directory}: no image files ({", ".join(EXTENSIONS)})')
    splits = {'train': [], 'test': []}
    for f in files:
      splits[split_of(f)].append(f)
    for split, names in splits.items():
      if not names:
        raise ValueError(f'{directory}: {len(files)} image file(s), none of them in the '
                         f'{split} split (about 10% go to test). Add more photographs')
    return {split: self._generate_examples(directory, names) for split, names in splits.items()}

  def _generate_examples(self, directory, names):
    for name in names:
      path = fileio.join(directory, name)
      yield name, {'image': square_rgb(fileio.read_bytes(path), path), 'label': 0}
