"""Text corpora for language modelling: splits, tokens, vocabulary, id streams.

Pure Python/numpy; TensorFlow/TFDS are imported only by `load_text_splits` /
`read_text_splits`, which read a TFDS text dataset whose examples are
`{'text': ...}` (one per split for the project's `text_corpus` builder and
TFDS's `tiny_shakespeare`, one per sentence for `lm1b`), joined by newlines.

Tokens:
  * 'char': every Unicode character (code point) is a token, '\\n' included.
  * 'word': whitespace-separated words, and every line break ('\\n') becomes an
    `<eos>` token (the PTB convention: each line ends with <eos>). A text that
    does not end with '\\n' gets no <eos> after its last line. '\\r' is
    whitespace, so '\\r\\n' line ends work too.

The vocabulary is built from the TRAIN split only; tokens of other splits that
are not in it (and train tokens cut by `max_size` / `min_count`) map to
`<unk>`, at both levels, so an unseen validation character is not an error.
"""

from __future__ import annotations

import collections
import hashlib
import json
from typing import Iterable, Sequence

import numpy as np

from research import errors, fileio

UNK = '<unk>'
EOS = '<eos>'
LEVELS = ('char', 'word')
SPLITS = ('train', 'validation', 'test')
TEXT_KEY = 'text'
_JSON_FORMAT = 'research.data.text.Vocabulary'
_JSON_VERSION = 1


def tokenize(text: str, level: str) -> list[str]:
  """Characters ('char') or words with '<eos>' for each line break ('word')."""
  if level == 'char':
    return list(text)
  if level == 'word':
    lines = text.split('\n')
    tokens = []
    for line in lines[:-1]:
      tokens.extend(line.split())
      tokens.append(EOS)
    tokens.extend(lines[-1].split())
    return tokens
  raise errors.ConfigError(f"Token level must be one of {LEVELS}, got {level!r}.")


class Vocabulary:
  """Token <-> id mapping, ids 0..len-1; see `build` for the order.

  `counts[i]` is the training count of `tokens[i]` (0 for a special that does
  not occur in training). Unknown tokens encode to the id of '<unk>' when the
  vocabulary has it, otherwise encoding one is a ValueError.
  """

  def __init__(self, tokens: Sequence[str], counts: Sequence[int] | None = None, *,
               level: str | None = None):
    self.tokens: tuple[str, ...] = tuple(str(t) for t in tokens)
    self.counts: tuple[int, ...] = (tuple(int(c) for c in counts) if counts is not None
                                    else (0,) * len(self.tokens))
    self.level = level
    if len(self.counts) != len(self.tokens):
      raise ValueError(f'{len(self.tokens)} tokens but {len(self.counts)} counts.')
    self._index = {t: i for i, t in enumerate(self.tokens)}
    if len(self._index) != len(self.tokens):
      dups = sorted(t for t, c in collections.Counter(self.tokens).items() if c > 1)
      raise ValueError(f'Duplicate vocabulary tokens: {dups[:10]!r}.')
    self.unk_id: int | None = self._index.get(UNK)

  @classmethod
  def build(cls, tokens: Iterable[str], *, max_size: int | None = None, min_count: int = 1,
            specials: Sequence[str] = (UNK,), level: str | None = None) -> Vocabulary:
    """Vocabulary of the given (training) tokens.

    Order: `specials` first (in the given order), then the other tokens by
    count, descending, ties by token (code-point order), so the result depends
    only on the multiset of tokens. Tokens seen fewer than `min_count` times
    are dropped; `max_size` caps the total size, specials included (the most
    frequent tokens are kept). `level` is only recorded (saved in the JSON).
    """
    specials = tuple(specials)
    if len(set(specials)) != len(specials):
      raise errors.ConfigError(f'Duplicate special tokens: {specials!r}.')
    if min_count < 1:
      raise errors.ConfigError(f'min_count must be >= 1, got {min_count}.')
    if max_size is not None and max_size < max(len(specials), 1):
      raise errors.ConfigError(
          f'max_size {max_size} leaves no room: the vocabulary needs at least '
          f'{max(len(specials), 1)} entries (specials {specials!r}).')
    counts = collections.Counter(tokens)
    special_set = set(specials)
    others = sorted(((t, c) for t, c in counts.items() if t not in special_set and c >= min_count),
                    key=lambda tc: (-tc[1], tc[0]))
    if max_size is not None:
      others = others[:max_size - len(specials)]
    entries = [(s, counts.get(s, 0)) for s in specials] + others
    return cls([t for t, _ in entries], [c for _, c in entries], level=level)

  def __len__(self) -> int:
    return len(self.tokens)

  def __contains__(self, token) -> bool:
    return token in self._index

  def __eq__(self, other) -> bool:
    if not isinstance(other, Vocabulary):
      return NotImplemented
    return (self.tokens, self.counts, self.level) == (other.tokens, other.counts, other.level)

  __hash__ = None  # Mutable-looking value type: compare, don't hash.

  def __repr__(self) -> str:
    head = ', '.join(repr(t) for t in self.tokens[:5])
    return f'Vocabulary(level={self.level!r}, size={len(self)}, tokens=[{head}, ...])'

  def index(self, token: str) -> int:
    """The id of `token` (KeyError if absent; use `encode` to map to <unk>)."""
    return self._index[token]

  def encode(self, tokens: Iterable[str]) -> np.ndarray:
    """int32 ids; tokens not in the vocabulary become the id of '<unk>'."""
    get = self._index.get
    default = -1 if self.unk_id is None else self.unk_id
    if not isinstance(tokens, (list, tuple, str)):
      tokens = list(tokens)
    ids = np.fromiter((get(t, default) for t in tokens), dtype=np.int32, count=len(tokens))
    if self.unk_id is None and ids.size and ids.min() < 0:
      unknown = sorted({t for t in tokens if t not in self._index})
      raise ValueError(f'{len(unknown)} tokens are not in the vocabulary and it has no '
                       f'{UNK!r} token: {unknown[:10]!r}.')
    return ids

  def decode(self, ids) -> list[str]:
    """The tokens of the given ids (ValueError for an id outside 0..len-1)."""
    ids = np.asarray(ids)
    if ids.size and (not np.issubdtype(ids.dtype, np.integer)
                     or ids.min() < 0 or ids.max() >= len(self)):
      raise ValueError(f'Ids must be integers in [0, {len(self)}), got {ids.dtype} '
                       f'in [{ids.min()}, {ids.max()}].')
    return [self.tokens[i] for i in ids.reshape(-1).tolist()]

  def oov_rate(self, ids) -> float:
    """Fraction of `ids` that are '<unk>' (0.0 if empty or there is no <unk>).

    Counts every <unk>, also one written literally in the text (PTB does).
    """
    ids = np.asarray(ids)
    if self.unk_id is None or ids.size == 0:
      return 0.0
    return float(np.mean(ids == self.unk_id))

  def fingerprint(self) -> str:
    """sha256 (hex) of the token list: equal iff ids mean the same tokens."""
    payload = json.dumps(list(self.tokens), ensure_ascii=False).encode('utf-8')
    return hashlib.sha256(payload).hexdigest()

  def to_json(self) -> str:
    return json.dumps({
        'format': _JSON_FORMAT, 'version': _JSON_VERSION, 'level': self.level,
        'size': len(self), 'fingerprint': self.fingerprint(),
        'tokens': list(self.tokens), 'counts': list(self.counts),
    }, ensure_ascii=False)

  @classmethod
  def from_json(cls, text: str) -> Vocabulary:
    data = json.loads(text)
    if not isinstance(data, dict) or data.get('format') != _JSON_FORMAT:
      raise ValueError('Not a saved research.data.lm_corpus.Vocabulary (missing "format").')
    if data.get('version') != _JSON_VERSION:
      raise ValueError(f'Vocabulary JSON version {data.get("version")!r}; '
                       f'this code reads version {_JSON_VERSION}.')
    vocab = cls(data['tokens'], data['counts'], level=data.get('level'))
    if 'fingerprint' in data and data['fingerprint'] != vocab.fingerprint():
      raise ValueError('Vocabulary JSON is corrupt: its tokens do not match its fingerprint.')
    return vocab

  def save(self, path: str) -> None:
    """Writes UTF-8 JSON (atomically: a temporary file, then a rename)."""
    fileio.write_atomically(path, self.to_json())

  @classmethod
  def load(cls, path: str) -> Vocabulary:
    try:
      return cls.from_json(fileio.read_text(path))
    except (ValueError, KeyError, TypeError) as e:
      raise ValueError(f'{path}: {e}') from e


def read_text_splits(builder, splits: Sequence[str] = SPLITS,
                     tfds_splits: dict[str, str] | None = None) -> dict[str, str]:
  """The text of each split of a prepared TFDS builder: its examples' texts in
  order, joined by newlines (one example per split for `text_corpus` and
  `tiny_shakespeare`; one per sentence for corpora such as `lm1b`).
  `tfds_splits` maps our split names to TFDS split strings (e.g. slices)."""
  from research.data import datasets

  available = list(builder.info.splits.keys())
  out = {}
  for split in splits:
    tfds_split = (tfds_splits or {}).get(split, split)
    base = tfds_split.split('[', 1)[0]
    if available and base not in available:
      raise errors.DataNotFoundError(
          f'{builder.name} has no {base!r} split (it has {", ".join(available)}).')
    texts = [raw.decode('utf-8') if isinstance(raw, bytes) else str(raw)
             for raw in datasets.read_columns(builder, tfds_split, (TEXT_KEY,))[TEXT_KEY]]
    if not texts:
      raise errors.DataNotFoundError(f'{builder.name}[{split}] has no examples.')
    out[split] = '\n'.join(texts)
  return out


def _check_source(builder, dataset_config) -> None:
  """A prepared `text_corpus` must have been built from the files in manual_dir."""
  manual_dir = getattr(dataset_config, 'manual_dir', None)
  if builder.name != 'text_corpus' or not manual_dir or not fileio.isdir(manual_dir):
    return
  recorded = (builder.info.metadata or {}).get('files')
  if not recorded:
    return
  from research.data.builders import text_corpus

  try:
    _, files = text_corpus.find_corpus_files(manual_dir)
  except ValueError as e:
    raise errors.DataNotFoundError(f'{dataset_config.name}: {e}') from e
  current = [[fileio.path(p).name, fileio.path(p).stat().length] for ps in files.values() for p in ps]
  if current != [list(f) for f in recorded]:
    raise errors.DataNotFoundError(
        f'{dataset_config.name}: the prepared copy under {builder.data_dir!r} was built '
        f'from other files ({len(recorded)} files: {recorded[:3]}...) than {manual_dir!r} '
        f'holds now ({len(current)} files: {current[:3]}...). Delete the prepared copy '
        '(the next run rebuilds it from the files).')


def load_text_splits(dataset_config) -> dict[str, str]:
  """{'train', 'validation', 'test'} -> text of a registered text dataset.

  Builds/prepares it like any dataset (`research.data.datasets.prepare`), so
  `text_corpus` reads `dataset_config.manual_dir` and public datasets such as
  `tiny_shakespeare` follow `dataset_config.download`.
  """
  from research.data import datasets
  from research.data.registry import DATASETS

  builder = datasets.prepare(dataset_config)
  _check_source(builder, dataset_config)
  tfds_splits = {**(DATASETS[dataset_config.name].text_splits or {}),
                 'train': dataset_config.train_split}
  return read_text_splits(builder, tfds_splits=tfds_splits)


def make_token_streams(splits: dict[str, str], level: str, *, max_vocab: int | None = None,
                       min_count: int = 1) -> tuple[Vocabulary, dict[str, np.ndarray]]:
  """(train vocabulary, split -> int32 ids) for every split in `splits`."""
  if level not in LEVELS:
    raise errors.ConfigError(f"Token level must be one of {LEVELS}, got {level!r}.")
  if 'train' not in splits:
    raise errors.DataNotFoundError(
        f'No train split to build the vocabulary from (got {sorted(splits)}).')
  tokens = {}
  for split, text in splits.items():
    if not text:
      raise errors.DataNotFoundError(f'The {split!r} split of the text corpus is empty.')
    tokens[split] = tokenize(text, level)
    if not tokens[split]:
      raise errors.DataNotFoundError(
          f'The {split!r} split of the text corpus has no {level} tokens (only whitespace).')
  vocab = Vocabulary.build(tokens['train'], max_size=max_vocab, min_count=min_count, level=level)
  return vocab, {split: vocab.encode(t) for split, t in tokens.items()}
