"""Feeding a language model: token streams on device, truncated BPTT windows.

Training (Zaremba et al. 2014, §4; the classic `batchify`): the training split's
N token ids are cut into B contiguous rows of L+1 tokens (B = global batch,
L = (N-1) // B, the last tokens dropped), and step s of an epoch reads the
window [s*T, s*T+T) of every row as inputs and the window shifted by one as
targets (T = `seq_len`). Row b of step s+1 continues row b of step s, so the
hidden state is carried from one step to the next (`reset` is true on the
first window of an epoch, where the carry restarts from zeros). The rows stay
on device, sharded over the batch; a step receives only its window offset.

Evaluation scores every token of a split after the first one exactly once:
targets ids[1:] (inputs ids[:-1]) are laid out in R = eval_batch_size rows, the
last row padded and masked, and the rows are read in windows of T with the
carry threaded from window to window. Sums and counts make the metrics exact.
The n-gram baselines (`research.tasks.ngram`) score the same ids[1:].
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Iterator

import jax
import numpy as np

from research import errors, parallel
from research import workdir as workdir_lib
from research.data import feeding, lm_corpus

VOCAB_FILE = 'vocab.json'


@dataclasses.dataclass(frozen=True)
class TokenData:
  """A vocabulary and int32 ids of the 'train', 'validation' and 'test' splits."""
  vocab: lm_corpus.Vocabulary
  ids: dict[str, np.ndarray]


def load(config) -> TokenData:
  """Reads the dataset's text splits and tokenizes them (vocabulary from train)."""
  splits = lm_corpus.load_text_splits(config.dataset)
  vocab, ids = lm_corpus.make_token_streams(
      splits, config.text.level, max_vocab=config.text.max_vocab,
      min_count=config.text.min_count)
  return TokenData(vocab=vocab, ids=ids)


def synthetic(vocab_size: int, num_train: int = 1 << 20, num_eval: int = 1 << 14,
              seed: int = 0) -> TokenData:
  """Uniformly random ids (for benchmarks and machines without TFDS)."""
  rng = np.random.default_rng(seed)
  vocab = lm_corpus.Vocabulary([f'<{i}>' for i in range(vocab_size)])
  ids = {'train': rng.integers(0, vocab_size, num_train, dtype=np.int32)}
  for split in ('validation', 'test'):
    ids[split] = rng.integers(0, vocab_size, num_eval, dtype=np.int32)
  return TokenData(vocab=vocab, ids=ids)


def batchify(ids: np.ndarray, batch_size: int, seq_len: int) -> tuple[np.ndarray, int]:
  """(rows_Bx(L+1), steps per epoch): B contiguous rows overlapping by one
  token, so window s gives inputs [sT, sT+T) and targets [sT+1, sT+T+1)."""
  row_len = (len(ids) - 1) // batch_size
  steps = row_len // seq_len
  if steps == 0:
    raise errors.ConfigError(
        f'The training split has {len(ids):,} tokens: too few for batch_size={batch_size} '
        f'rows of seq_len={seq_len} (needs more than {batch_size * seq_len:,}). '
        'Lower batch_size or seq_len.')
  starts = np.arange(batch_size) * row_len
  rows = ids[starts[:, None] + np.arange(row_len + 1)[None, :]]
  return rows.astype(np.int32), steps


def eval_layout(ids: np.ndarray, num_rows: int, seq_len: int) -> dict[str, np.ndarray]:
  """inputs/targets/mask of shape R x (W*T): targets ids[1:], padded, masked."""
  num_targets = len(ids) - 1
  row_len = seq_len * math.ceil(math.ceil(num_targets / num_rows) / seq_len)
  total = num_rows * row_len
  inputs = np.zeros(total, np.int32)
  targets = np.zeros(total, np.int32)
  inputs[:num_targets] = ids[:-1]
  targets[:num_targets] = ids[1:]
  mask = np.arange(total) < num_targets
  shape = (num_rows, row_len)
  return {'inputs': inputs.reshape(shape), 'targets': targets.reshape(shape),
          'mask': mask.reshape(shape)}


def _window(rows, offset, length):
  return jax.lax.dynamic_slice_in_dim(rows, offset, length, axis=1)


class TokenStreamFeeder:
  """Token rows on device; `train_args(step)` is just the window offset."""

  eval_splits = ('validation', 'test')

  def __init__(self, config, mesh, data: TokenData | None = None):
    data = load(config) if data is None else data
    self.mesh = mesh
    self.vocab = data.vocab
    self.seq_len = config.seq_len
    self.batch_size = config.batch_size
    self.level = config.text.level
    for split in self.eval_splits:
      if len(data.ids[split]) - 1 < self.seq_len:
        raise errors.ConfigError(
            f'seq_len={self.seq_len} is longer than the {split} split, which has only '
            f'{len(data.ids[split]):,} {self.level} tokens. Lower seq_len or use a '
            f'larger {split} split.')
    rows, self.steps_per_epoch = batchify(data.ids['train'], config.batch_size, self.seq_len)
    self.train_tokens = len(data.ids['train'])
    self.train_rows = parallel.global_batch(feeding.process_rows(rows), mesh)
    self.eval_data = {}
    self.eval_tokens = {}
    for split in self.eval_splits:
      layout = eval_layout(data.ids[split], config.eval_batch_size, self.seq_len)
      self.eval_data[split] = {k: parallel.global_batch(feeding.process_rows(v), mesh)
                               for k, v in layout.items()}
      self.eval_tokens[split] = len(data.ids[split]) - 1
    self.eval_batch_size = config.eval_batch_size
    self.eval_ids_host = data.ids['validation']  # for pictures and samples
    repl, batch = parallel.replicated(mesh), parallel.batch_sharded(mesh)
    self.train_arg_shardings = (batch, repl)  # token rows, window offset
    self.eval_arg_shardings = (batch, repl)   # the split's rows, window offset

  @property
  def model_kwargs(self) -> dict[str, Any]:
    return {'vocab_size': len(self.vocab)}

  def train_args(self, step: int) -> tuple:
    offset = (step % self.steps_per_epoch) * self.seq_len
    return self.train_rows, np.int32(offset)

  def train_batch(self, rows_BxL, offset) -> dict[str, jax.Array]:
    batch = {
        'inputs': _window(rows_BxL, offset, self.seq_len),
        'targets': _window(rows_BxL, offset + 1, self.seq_len),
        'reset': offset == 0,
    }
    sharding = parallel.batch_sharded(self.mesh)
    return {k: (jax.lax.with_sharding_constraint(v, sharding) if v.ndim else v)
            for k, v in batch.items()}

  def eval_args(self, split: str) -> Iterator[tuple]:
    """The split's rows and each window's offset; the eval carry threads the
    hidden state from one window to the next."""
    data = self.eval_data[split]
    for offset in range(0, data['inputs'].shape[1], self.seq_len):
      yield data, np.int32(offset)

  def eval_batch(self, data, offset) -> dict[str, jax.Array]:
    return {k: _window(v, offset, self.seq_len) for k, v in data.items()}

  def initial_eval_carry(self, state, split: str) -> Any:
    """Zeros shaped like the training carry, with eval_batch_size rows."""
    del split

    def zeros(c):
      rows = np.zeros((self.eval_batch_size, *c.shape[1:]), c.dtype)
      return parallel.global_batch(feeding.process_rows(rows), self.mesh)

    return jax.tree.map(zeros, state.model_state['carry'])


def sync_vocabulary(workdir: str, vocab: lm_corpus.Vocabulary) -> None:
  """Saves the vocabulary in the workdir, or checks it against the one a
  resumed run used: ids mean tokens only through it, so a run whose corpus or
  text options changed must not resume."""

  def check(path):
    saved = lm_corpus.Vocabulary.load(path)
    if saved.fingerprint() != vocab.fingerprint():
      raise errors.ConfigError(
          f'Vocabulary mismatch: {workdir!r} was trained with a {saved.level}-level '
          f'vocabulary of {len(saved)} tokens ({path}); the data now gives '
          f'{len(vocab)} tokens with different ids (first differences: '
          f'{_first_differences(saved, vocab)}). The corpus or text options '
          'changed: use a new --workdir, or the original data.')

  workdir_lib.sync_file(workdir, VOCAB_FILE, write=vocab.save, check=check)


def _first_differences(a: lm_corpus.Vocabulary, b: lm_corpus.Vocabulary, limit: int = 3) -> str:
  diffs = [f'id {i}: {x!r} vs {y!r}' for i, (x, y) in enumerate(zip(a.tokens, b.tokens))
           if x != y][:limit]
  if not diffs and len(a) != len(b):
    diffs = [f'sizes {len(a)} vs {len(b)}']
  return '; '.join(diffs)
