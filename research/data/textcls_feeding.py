"""Input for text classification: labelled texts from TFDS -> a word vocabulary
fitted on the train split -> fixed-length rows of word ids on device.

Tokenisation is HuggingFace `tokenizers` (a WordLevel model: Unicode NFKC
normalisation, optional lowercasing, split into words and punctuation runs),
so the exact tokenizer, vocabulary and padding/truncation length are one
`tokenizer.json` that is saved in the workdir beside the checkpoints and read
back by `launch.predict`. Ids: 0 = '[PAD]', 1 = '[UNK]' (any word outside the
vocabulary: not in the train split, or rarer than `text.min_count`).

Rows are `text.max_length` ids: longer texts are truncated (their first words
kept), shorter ones padded with 0 at the end. The rows then go through the
same in-memory feeder as images (`feeding.InMemoryFeeder`), so training,
exact evaluation, vmapped seeds and tables work unchanged.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from research import errors, fileio, writers
from research import workdir as workdir_lib
from research.data import datasets
from research.data.feeding import ArraySplits, InMemoryFeeder
from research.data.registry import DATASETS

PAD, UNK = '[PAD]', '[UNK]'
TOKENIZER_FILE = 'tokenizer.json'
LABELS_FILE = 'labels.json'
_READ_CHUNK = 4096


def load_texts(dataset_config, split: str) -> tuple[list[str], np.ndarray, list[str]]:
  """(texts, labels int32, class names) of a whole split, in TFDS order."""
  spec = DATASETS[dataset_config.name]
  builder = datasets.prepare(dataset_config)
  columns = datasets.read_columns(builder, split, (spec.input_key, spec.label_key))
  texts = [t.decode('utf-8') if isinstance(t, bytes) else str(t)
           for t in columns[spec.input_key]]
  if not texts:
    raise errors.DataNotFoundError(f'{dataset_config.name}[{split}] is empty.')
  label_feature = builder.info.features[spec.label_key]
  names = list(label_feature.names)
  labels = np.asarray(columns[spec.label_key]).astype(np.int32)
  bad = np.flatnonzero((labels < 0) | (labels >= len(names)))
  if bad.size:
    raise errors.DataNotFoundError(
        f'{dataset_config.name}[{split}]: example {bad[0]} has label {labels[bad[0]]}, outside '
        f'the label set {names} ({bad.size} such examples). Hidden test labels (e.g. '
        "GLUE's test splits) cannot be evaluated: use the validation split.")
  empty = [i for i, t in enumerate(texts) if not t.strip()]
  if empty:
    raise errors.DataNotFoundError(
        f'{dataset_config.name}[{split}]: example {empty[0]} has an empty text '
        f'({len(empty)} such examples).')
  return texts, labels, names


# The share of the train split's words that text.max_length='auto' keeps.
TOKEN_COVERAGE = 0.95
# Above this share of unknown train words, the vocabulary cut-off is reported.
UNKNOWN_WARNING = 0.05


def length_keeping(lengths: Sequence[int], coverage: float = TOKEN_COVERAGE) -> int:
  """The least row length L that keeps `coverage` of all words when every
  text is cut to its first L: sum(min(len, L)) >= coverage * sum(len)."""
  lengths = np.asarray(lengths, np.int64)
  lo, hi = 1, max(int(lengths.max(initial=1)), 1)
  while lo < hi:
    mid = (lo + hi) // 2
    if np.minimum(lengths, mid).sum() >= coverage * lengths.sum():
      hi = mid
    else:
      lo = mid + 1
  return lo


def _resolve_length(lengths: np.ndarray, text_config) -> int:
  """text.max_length, or the length that keeps TOKEN_COVERAGE of the words
  for 'auto'; a configured length that cuts more is reported prominently."""
  suggested = length_keeping(lengths)
  if text_config.max_length == 'auto':
    writers.log(f'text.max_length=auto: {suggested} words per text keeps '
                f'{TOKEN_COVERAGE:.0%} of the train split\'s words.')
    return suggested
  length = int(text_config.max_length)
  kept = np.minimum(lengths, length).sum() / max(lengths.sum(), 1)
  if kept < TOKEN_COVERAGE:
    writers.log(
        f'WARNING: text.max_length={length} keeps {kept:.0%} of the train split\'s words '
        f'({np.mean(lengths > length):.0%} of its texts are cut); {suggested} would keep '
        f'{TOKEN_COVERAGE:.0%} (--config.text.max_length={suggested}, or =auto).')
  return length


def _report_unknown_share(ids: Sequence[Sequence[int]], text_config) -> None:
  flat = np.concatenate([np.asarray(row, np.int64) for row in ids] or [np.zeros(0, np.int64)])
  unknown = float(np.mean(flat == 1)) if flat.size else 0.0
  if unknown > UNKNOWN_WARNING:
    writers.log(
        f'WARNING: {unknown:.0%} of the train split\'s words are outside the vocabulary '
        f'(text.max_vocab={text_config.max_vocab}, text.min_count={text_config.min_count}): '
        'raise max_vocab or lower min_count.')


def fit_tokenizer(texts: Sequence[str], text_config):
  """A WordLevel tokenizer whose vocabulary is the train split's words seen at
  least `min_count` times (the `max_vocab` most frequent, if set), with
  padding/truncation to `max_length` (an int, or 'auto': the length that
  keeps 95% of the train split's words)."""
  from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

  tokenizer = Tokenizer(models.WordLevel(unk_token=UNK))
  steps = [normalizers.NFKC()] + ([normalizers.Lowercase()] if text_config.lowercase else [])
  tokenizer.normalizer = normalizers.Sequence(steps)
  tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()  # \w+ | [^\w\s]+
  trainer = trainers.WordLevelTrainer(
      vocab_size=text_config.max_vocab or 2 ** 31 - 1, min_frequency=text_config.min_count,
      special_tokens=[PAD, UNK], show_progress=False)
  tokenizer.train_from_iterator(texts, trainer=trainer)
  ids = [e.ids for e in tokenizer.encode_batch(list(texts))]  # whole texts, no padding
  _report_unknown_share(ids, text_config)
  length = _resolve_length(np.asarray([len(row) for row in ids]), text_config)
  tokenizer.enable_padding(pad_id=0, pad_token=PAD, length=length)
  tokenizer.enable_truncation(max_length=length)
  return tokenizer


def encode(tokenizer, texts: Sequence[str]) -> np.ndarray:
  """N x max_length int32 word ids."""
  return np.asarray([e.ids for e in tokenizer.encode_batch(list(texts))], np.int32)


def tokens_of(tokenizer, text: str) -> list[str]:
  """The words the model sees for `text` (without padding)."""
  return [t for t in tokenizer.encode(text).tokens if t != PAD]


def load_tokenizer(workdir: str):
  from tokenizers import Tokenizer
  path = fileio.join(workdir, TOKENIZER_FILE)
  if not fileio.exists(path):
    raise errors.DataNotFoundError(f'{path} not found: {workdir!r} is not a text-classification workdir.')
  return Tokenizer.from_str(fileio.read_text(path))


def load_class_names(workdir: str) -> list[str]:
  return fileio.read_json(fileio.join(workdir, LABELS_FILE))


class TextClassificationFeeder(InMemoryFeeder):
  """Word-id rows of the train and eval splits, held on every device, and
  the pre-trained word vectors of the vocabulary (CNN-static/non-static)."""

  def __init__(self, config, mesh):
    ds = config.dataset
    train_texts, train_labels, names = load_texts(ds, ds.train_split)
    eval_texts, eval_labels, _ = load_texts(ds, ds.eval_split)
    self.tokenizer = fit_tokenizer(train_texts, config.text)
    self.class_names = names
    self.eval_texts = eval_texts  # For pictures of what the model reads.
    data = ArraySplits(
        train_inputs=encode(self.tokenizer, train_texts), train_labels=train_labels,
        eval_inputs=encode(self.tokenizer, eval_texts), eval_labels=eval_labels,
        num_classes=len(names))
    super().__init__(config, mesh, data=data)
    unk_share = float(np.mean(data.eval_inputs == 1) / max(np.mean(data.eval_inputs != 0), 1e-9))
    writers.log(
        f'{ds.name}: {len(train_texts):,} train / {len(eval_texts):,} eval texts, vocabulary '
        f'{self.tokenizer.get_vocab_size():,}, {unk_share:.1%} of eval words unknown, '
        f'{np.mean(data.train_inputs[:, -1] != 0):.1%} of train texts truncated.')
    self.word_vectors = None  # vocabulary x embed_dim, rows in id order
    if config.text.vectors_path is not None:
      self.word_vectors = self._load_vectors(config.text.vectors_path, config.model)

  def _load_vectors(self, path: str, model_config) -> np.ndarray:
    from research.data import word_vectors
    vocab = self.tokenizer.get_vocab()
    words = sorted(vocab, key=vocab.get)
    embed_dim = model_config.embed_dim if 'embed_dim' in model_config else None
    # Words missing from the file get Kim's U(-0.25, 0.25), the same for every
    # seed (seed 0), so seeds differ only in the trained layers' init and order.
    matrix, found = word_vectors.load_word_vectors(path, words, embed_dim)
    writers.log(f'{found:,} of {len(words):,} vocabulary words found in {path}.')
    return matrix

  @property
  def model_kwargs(self) -> dict[str, Any]:
    return {'num_classes': self.num_classes, 'vocab_size': self.tokenizer.get_vocab_size()}


def save_tokenizer(workdir: str, tokenizer, class_names: Sequence[str]) -> None:
  """The tokenizer (vocabulary, normalisation, length) and the class names,
  as a resumed run checks them and `launch.predict` reads them."""
  def check(path):
    saved = load_tokenizer(workdir).get_vocab()
    if saved != tokenizer.get_vocab() or load_class_names(workdir) != list(class_names):
      raise errors.ConfigError(
          f'Vocabulary mismatch: {path} was built from other training data than this '
          "run's; use a new --workdir for a changed dataset.")

  def write(path):
    fileio.write_atomically(path, tokenizer.to_str(pretty=True))
    fileio.write_json(fileio.join(workdir, LABELS_FILE), list(class_names))

  workdir_lib.sync_file(workdir, TOKENIZER_FILE, write=write, check=check)


class SyntheticTextFeeder(InMemoryFeeder):
  """Random word-id rows of a given length over a given vocabulary (for
  benchmarks, and machines without TensorFlow/TFDS)."""

  def __init__(self, config, mesh, length: int, vocab_size: int, num_classes: int = 2,
               num_train: int = 4096, num_eval: int = 1024):
    rng = np.random.default_rng(config.seed)
    ids = lambda n: rng.integers(2, vocab_size, (n, length)).astype(np.int32)
    labels = lambda n: rng.integers(0, num_classes, n).astype(np.int32)
    self.vocab_size = vocab_size
    self.word_vectors = None
    super().__init__(config, mesh, data=ArraySplits(
        train_inputs=ids(num_train), train_labels=labels(num_train),
        eval_inputs=ids(num_eval), eval_labels=labels(num_eval), num_classes=num_classes))

  @property
  def model_kwargs(self) -> dict[str, Any]:
    return {'num_classes': self.num_classes, 'vocab_size': self.vocab_size}
