"""Captioned images for the captioning family: reading the splits, the
caption vocabulary, and captions as padded id rows.

Tokenisation follows the preprocessing of the captioning literature's public
splits (Karpathy & Fei-Fei 2015): lower case, punctuation dropped, words
split on everything that is not a letter, digit or apostrophe. The same
function tokenises the references for the metrics (research/caption_metrics.py),
so the model and the scorer see the same words.

A caption becomes `<start> w_1 .. w_n <end>`, padded with `<pad>` (id 0) to
`max_length + 2` ids; captions longer than `max_length` words are cut (and
counted, so a config can see how many). Words seen fewer than `min_count`
times in the training captions are `<unk>`.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Sequence

import numpy as np

from research import errors
from research.data.lm_corpus import UNK, Vocabulary

PAD, START, END = '<pad>', '<start>', '<end>'
SPECIALS = (PAD, START, END, UNK)  # ids 0, 1, 2, 3
PAD_ID, START_ID, END_ID, UNK_ID = range(4)
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")


def tokenize(caption: str) -> list[str]:
  return _WORD.findall(caption.lower())


def build_vocabulary(captions: Sequence[Sequence[str]], min_count: int) -> Vocabulary:
  """From the training split's captions (each image's list of captions)."""
  words = (w for image in captions for caption in image for w in tokenize(caption))
  return Vocabulary.build(words, min_count=min_count, specials=SPECIALS, level='caption')


def check_vocabulary(vocab: Vocabulary) -> None:
  if tuple(vocab.tokens[:len(SPECIALS)]) != SPECIALS:
    raise errors.ConfigError(
        f'Not a caption vocabulary: its first tokens are {vocab.tokens[:len(SPECIALS)]}, '
        f'expected {SPECIALS}.')


@dataclasses.dataclass
class EncodedCaptions:
  ids_NxT: np.ndarray       # <start> words <end> <pad>..., int32, T = max_length + 2
  image_index_N: np.ndarray  # which image each caption describes (int32)
  cut: int                  # captions longer than max_length words, cut


def encode(vocab: Vocabulary, captions: Sequence[Sequence[str]], max_length: int
           ) -> EncodedCaptions:
  """Every caption of every image, one row each."""
  rows, images, cut = [], [], 0
  for i, image_captions in enumerate(captions):
    for caption in image_captions:
      words = tokenize(caption)
      cut += len(words) > max_length
      ids = [START_ID, *vocab.encode(words[:max_length]).tolist(), END_ID]
      rows.append(ids + [PAD_ID] * (max_length + 2 - len(ids)))
      images.append(i)
  return EncodedCaptions(np.asarray(rows, np.int32).reshape(-1, max_length + 2),
                         np.asarray(images, np.int32), cut)


def decode(vocab: Vocabulary, ids: Sequence[int]) -> str:
  """Generated ids (after <start>) up to <end>, as a caption of words."""
  words = []
  for i in ids:
    if int(i) == END_ID:
      break
    if int(i) != PAD_ID:
      words.append(vocab.tokens[int(i)])
  return ' '.join(words)


@dataclasses.dataclass
class CaptionSplit:
  images_NxHxWx3: np.ndarray  # uint8
  filenames: list[str]
  captions: list[list[str]]   # as written, one list per image


def load_split(dataset_config, split: str, image_size: int = 256) -> CaptionSplit:
  """A prepared caption dataset's split (the project's caption_folder, or
  TFDS's coco_captions), in the builder's order, images image_size square."""
  from research.data import datasets
  builder = datasets.prepare(dataset_config)
  # A builder whose info lists no splits (tfds.testing.mock_data's) serves any.
  if builder.info.splits and split not in builder.info.splits:
    raise errors.ConfigError(
        f'Dataset {dataset_config.name!r} has no split {split!r}; it has '
        f'{", ".join(builder.info.splits)}.')
  images, names, captions = [], [], []
  for example in datasets.examples(builder, split):
    images.append(square(np.asarray(example['image'], np.uint8), image_size))
    names.append(_text(example['image/filename']))
    captions.append([_text(c) for c in _caption_texts(example['captions'])])
  if not images:
    raise errors.DataError(f'{dataset_config.name}: the {split} split is empty.')
  return CaptionSplit(np.stack(images), names, captions)


def square(image_HxWx3: np.ndarray, size: int) -> np.ndarray:
  """An image of any shape as size x size: padded with white to a square (as
  the caption_folder builder stores images), then resized (bicubic)."""
  if image_HxWx3.shape == (size, size, 3):
    return image_HxWx3
  from PIL import Image
  h, w = image_HxWx3.shape[:2]
  side = max(h, w)
  canvas = Image.new('RGB', (side, side), (255, 255, 255))
  canvas.paste(Image.fromarray(image_HxWx3), ((side - w) // 2, (side - h) // 2))
  return np.asarray(canvas.resize((size, size), Image.Resampling.BICUBIC), np.uint8)


def _caption_texts(captions):
  # caption_folder: a sequence of texts; coco_captions: {'text': [...], 'id': [...]}.
  return captions['text'] if isinstance(captions, dict) else captions


def _text(value) -> str:
  return value.decode('utf-8') if isinstance(value, bytes) else str(value)
