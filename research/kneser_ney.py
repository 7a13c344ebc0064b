"""Count-based n-gram language model with interpolated modified Kneser-Ney
smoothing, the classic baseline for the neural language models.

Reference: S. F. Chen and J. Goodman (1998), "An Empirical Study of Smoothing
Techniques for Language Modeling", Harvard TR-10-98 (modified Kneser-Ney, the
interpolated variant).

Why this module exists. It must score exactly the integer token stream and
vocabulary the neural models see, so it takes token ids in [0, vocab_size) and
trains from Python. Library options checked before writing it:
  * `kenlm` (pip 0.3.0, sdist only): its Python module only loads and queries
    ARPA/binary models; estimation needs the `lmplz` binary, which the pip build
    does not compile (only `lm/*.cc`, not `lm/builder/`), and building it needs
    Boost development headers that are not installed here. It also works on
    whitespace-separated word strings with <s>/</s> per line, not on one
    integer stream.
  * `nltk.lm.KneserNeyInterpolated`: plain (single-discount) Kneser-Ney, not
    modified KN, and pure-Python per n-gram, far too slow for millions of tokens.
So it is written here with vectorised numpy: every n-gram gets a dense integer
id through `np.unique`, lookups are `np.searchsorted`, and there is no Python
loop over tokens (only over the `order` levels).

Model (interpolated modified KN). For level k = 1..N (N = `order`), history h
of k-1 tokens and next token w:

  p_k(w | h) = max(c_k(h w) - D_k(c_k(h w)), 0) / S_k(h) + gamma_k(h) p_{k-1}(w | h')
  S_k(h)     = sum_w c_k(h w)
  gamma_k(h) = (D_k1 N1(h .) + D_k2 N2(h .) + D_k3+ N3+(h .)) / S_k(h)
  p_0(w)     = 1 / vocab_size                       (uniform over the vocabulary)

where h' drops the oldest token of h, N_r(h .) is the number of distinct w with
c_k(h w) = r (r >= 3 for N3+), and D_k(0) = 0. The counts c_k are
  * raw counts at the highest level k = N;
  * continuation counts at lower levels, c_k(g) = N1+(. g) = the number of
    distinct tokens v such that the (k+1)-gram v g occurs in training.
If S_k(h) = 0 (history never seen at this level) the level passes p_{k-1}
through unchanged (weight 1 on the lower order). Because the discounts are in
(0, r] every seen history gives gamma_k > 0, so every vocabulary token, also one
never seen in training, gets a strictly positive probability.

Discounts, per level, from the count-of-counts n_r of that level's counts
(continuation counts below the top, as in SRILM/KenLM):
  Y = n1 / (n1 + 2 n2),  D1 = 1 - 2Y n2/n1,  D2 = 2 - 3Y n3/n2,  D3+ = 3 - 4Y n4/n3.
Fallback (tiny or artificial data, e.g. a unigram level where every count is
large): if any of n1..n4 is zero, or any estimate falls outside (0, r], all
three discounts of that level become (0.5, 1.0, 1.5), the default of KenLM's
`lmplz --discount_fallback`. Keeping D_r in (0, r] means c - D(c) >= 0, so the
distributions stay normalised and positive (no NaN, no negative mass).

Beginning of the stream. There are no <s>/</s> symbols: the training data is
one contiguous stream, and position t is predicted from the tokens that exist
before it, i.e. the first N-1 positions of a stream back off to shorter
histories (position t uses levels 1..t+1 only, so position 0 gets p_1, the
continuation-count unigram interpolated with uniform). Training counts are
taken over every window of the stream; an n-gram that only occurs at the very
start has no left extension, so its continuation count is 0 (it is simply
absent at that lower level), exactly as the formulas above define it. To score
a test split as the continuation of some text, pass that text as `history`.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

# KenLM's `lmplz --discount_fallback` defaults.
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)


def modified_kn_discounts(count_of_counts: Sequence[int]) -> tuple[float, float, float]:
  """(D1, D2, D3+) from (n1, n2, n3, n4), with the fallback described above."""
  n1, n2, n3, n4 = (int(n) for n in count_of_counts[:4])
  if min(n1, n2, n3, n4) == 0:
    return FALLBACK_DISCOUNTS
  y = n1 / (n1 + 2 * n2)
  d = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
  # D_r > r would give negative mass to count-r n-grams; D_r <= 0 would leave a
  # history with no back-off mass, i.e. zero probability for unseen tokens.
  if not all(0.0 < d_r <= r for r, d_r in enumerate(d, start=1)):
    return FALLBACK_DISCOUNTS
  return d


def _as_tokens(tokens, vocab_size: int, what: str) -> np.ndarray:
  """`tokens` as a validated 1-D int64 array (no copy if already int64)."""
  arr = np.asarray(tokens)
  if arr.ndim != 1:
    raise ValueError(f'{what} must be a 1-D sequence of token ids, got shape {arr.shape}')
  if arr.size == 0:
    return np.zeros(0, np.int64)
  if not np.issubdtype(arr.dtype, np.integer):
    raise ValueError(f'{what} must be integer token ids, got dtype {arr.dtype}')
  lo, hi = arr.min(), arr.max()
  if lo < 0 or hi >= vocab_size:
    raise ValueError(
        f'{what} has token ids in [{lo}, {hi}], outside [0, vocab_size={vocab_size})')
  return arr.astype(np.int64, copy=False)


class _Level:
  """Precomputed tables of one level k (histories of k-1 tokens).

  A k-gram is keyed as `id(history) * vocab_size + w`, where id(history) is the
  dense id of the (k-1)-gram at level k-1 (0 for the empty history). Keys are
  then < (#distinct (k-1)-grams) * vocab_size <= len(stream) * vocab_size, so
  they fit int64 exactly for any realistic corpus and vocabulary (a raw base-V
  encoding of 5 ids from a 30k vocabulary would not).
  """

  def __init__(self, keys: np.ndarray, counts: np.ndarray, num_histories: int, vocab_size: int):
    self.keys = keys  # sorted unique int64 keys of every k-gram in training
    self.counts = counts  # raw (top level) or continuation counts, per key
    n_r = [int(np.count_nonzero(counts == r)) for r in (1, 2, 3, 4)]
    self.count_of_counts = tuple(n_r)
    self.discounts = modified_kn_discounts(n_r)
    discount_of = np.array((0.0,) + tuple(self.discounts))[np.minimum(counts, 3)]
    history = keys // vocab_size
    total = np.bincount(history, weights=counts, minlength=num_histories)
    # The discounted mass is exactly what gamma hands to the lower order:
    # sum_w D(c(h w)) = D1 N1(h.) + D2 N2(h.) + D3+ N3+(h.).
    freed = np.bincount(history, weights=discount_of, minlength=num_histories)
    seen = total > 0
    safe_total = np.where(seen, total, 1.0)
    self.gamma = np.where(seen, freed / safe_total, 1.0)  # per history id
    self.alpha = np.where(seen[history], (counts - discount_of) / safe_total[history], 0.0)


class KneserNeyLM:
  """Interpolated modified Kneser-Ney n-gram LM over integer token ids.

  lm = KneserNeyLM(order=5, vocab_size=V).fit(train_ids)
  lm.log_probs(test_ids)       # ln p(x_t | previous order-1 tokens), float64
  lm.prob_table([3, 1, 4, 1])  # next-token distribution, shape (V,)
  """

  def __init__(self, order: int, vocab_size: int):
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 1:
      raise ValueError(f'order must be an integer >= 1, got {order!r}')
    if (isinstance(vocab_size, bool) or not isinstance(vocab_size, (int, np.integer))
        or vocab_size < 1):
      raise ValueError(f'vocab_size must be an integer >= 1, got {vocab_size!r}')
    self.order = int(order)
    self.vocab_size = int(vocab_size)
    self._levels: list[_Level] | None = None

  # --- training -------------------------------------------------------------

  def fit(self, tokens: np.ndarray) -> KneserNeyLM:
    """Count every 1..order-gram of one contiguous stream and build the tables."""
    x = _as_tokens(tokens, self.vocab_size, 'training tokens')
    if x.size == 0:
      raise ValueError('training stream is empty')
    v, n = self.vocab_size, len(x)
    if n * v >= 2**62:
      raise ValueError(f'{n} tokens x vocab {v} overflows the int64 n-gram keys')

    # ids[t] = dense id of the k-gram ending at position t (-1 for t < k-1).
    # Level 0 is the empty gram: one id, 0, present "ending" everywhere.
    prev_ids = np.zeros(n, np.int64)
    num_prev = 1
    keys_by_k, raw_by_k, cont_by_k = [], [], []
    for k in range(1, self.order + 1):
      if n < k:  # the stream is shorter than k: no k-grams at all
        keys_by_k.append(np.zeros(0, np.int64))
        raw_by_k.append(np.zeros(0, np.int64))
        if k > 1:
          cont_by_k.append(np.zeros(num_prev, np.int64))
        num_prev = 0
        prev_ids = np.full(n, -1, np.int64)
        continue
      # Prefix history of the k-gram ending at t is the (k-1)-gram ending at t-1.
      hist = prev_ids[k - 2:n - 1] if k > 1 else np.zeros(n, np.int64)
      keys = hist * v + x[k - 1:]
      uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
      keys_by_k.append(uniq)
      raw_by_k.append(np.bincount(inverse, minlength=len(uniq)))
      if k > 1:
        # Continuation count of a (k-1)-gram g = number of distinct k-grams v g,
        # i.e. of distinct k-grams whose suffix (the (k-1)-gram ending at the
        # same position) is g. One occurrence of each k-gram suffices.
        suffix = prev_ids[first + (k - 1)]
        cont_by_k.append(np.bincount(suffix, minlength=num_prev))
      ids = np.full(n, -1, np.int64)
      ids[k - 1:] = inverse
      prev_ids, num_prev = ids, len(uniq)

    levels = []
    num_histories = 1
    for k in range(1, self.order + 1):
      counts = raw_by_k[k - 1] if k == self.order else cont_by_k[k - 1]
      levels.append(_Level(keys_by_k[k - 1], counts.astype(np.int64), num_histories, v))
      num_histories = len(keys_by_k[k - 1])
    self._levels = levels
    return self

  @property
  def discounts(self) -> list[tuple[float, float, float]]:
    """(D1, D2, D3+) of levels 1..order."""
    return [level.discounts for level in self._fitted()]

  @property
  def num_ngrams(self) -> int:
    """Distinct n-grams stored over all levels (the model's size)."""
    return sum(len(level.keys) for level in self._fitted())

  @property
  def count_of_counts(self) -> list[tuple[int, int, int, int]]:
    """(n1, n2, n3, n4) of levels 1..order (continuation counts below the top)."""
    return [level.count_of_counts for level in self._fitted()]

  # --- scoring --------------------------------------------------------------

  def log_probs(self, tokens: np.ndarray, history: np.ndarray | None = None) -> np.ndarray:
    """ln p(tokens[t] | the up to order-1 tokens before it), float64, per position.

    `history`, if given, is text that precedes `tokens` (conditioned on, not
    scored); without it the first order-1 positions use shorter histories."""
    levels = self._fitted()
    y = _as_tokens(tokens, self.vocab_size, 'tokens')
    h = _as_tokens(np.zeros(0, np.int64) if history is None else history, self.vocab_size,
                   'history')
    s = np.concatenate([h[len(h) - min(len(h), self.order - 1):], y])
    skip = len(s) - len(y)
    p = np.full(len(s), 1.0 / self.vocab_size)
    hist = np.zeros(len(s), np.int64)  # level-1 history: the empty gram, id 0
    for k, level in enumerate(levels, start=1):
      idx = self._lookup(level, hist, s)
      p = self._interpolate(level, hist, idx, p)
      if k < self.order:
        # The k-gram ending at t-1 is the history of level k+1 at position t.
        hist = np.concatenate([np.full(1, -1, np.int64), idx[:-1]]) if len(s) else idx
    return np.log(p[skip:])

  def prob_table(self, context: Sequence[int]) -> np.ndarray:
    """p(w | context) for every w in the vocabulary, shape (vocab_size,).

    Only the last order-1 tokens of `context` matter; a shorter context uses
    fewer levels, exactly as at the start of a stream in `log_probs`."""
    levels = self._fitted()
    c = _as_tokens(context, self.vocab_size, 'context')
    c = c[len(c) - min(len(c), self.order - 1):]
    # History id of each level for the position right after `c`: walk the same
    # id chain over the context itself and keep its last entry.
    hist_ids = [0]
    hist = np.zeros(len(c), np.int64)
    for level in levels[:-1]:
      idx = self._lookup(level, hist, c)
      hist_ids.append(int(idx[-1]) if len(c) else -1)
      hist = np.concatenate([np.full(1, -1, np.int64), idx[:-1]]) if len(c) else idx
    words = np.arange(self.vocab_size, dtype=np.int64)
    p = np.full(self.vocab_size, 1.0 / self.vocab_size)
    for level, hist_id in zip(levels, hist_ids):
      hist = np.full(self.vocab_size, hist_id, np.int64)
      p = self._interpolate(level, hist, self._lookup(level, hist, words), p)
    return p

  # --- internals ------------------------------------------------------------

  def _fitted(self) -> list[_Level]:
    if self._levels is None:
      raise RuntimeError('KneserNeyLM is not fitted: call fit() first')
    return self._levels

  def _lookup(self, level: _Level, hist: np.ndarray, words: np.ndarray) -> np.ndarray:
    """Index into level.keys of each (history id, word); -1 where absent."""
    out = np.full(words.shape, -1, np.int64)
    known = hist >= 0
    if level.keys.size == 0 or not known.any():
      return out
    query = hist[known] * self.vocab_size + words[known]
    pos = np.minimum(np.searchsorted(level.keys, query), level.keys.size - 1)
    out[known] = np.where(level.keys[pos] == query, pos, -1)
    return out

  @staticmethod
  def _interpolate(level: _Level, hist: np.ndarray, idx: np.ndarray,
                   p_lower: np.ndarray) -> np.ndarray:
    """p_k = alpha(h w) + gamma(h) p_{k-1}; unknown history -> p_{k-1} as is."""
    gamma = np.ones(len(hist))
    known = hist >= 0
    gamma[known] = level.gamma[hist[known]]
    alpha = np.zeros(len(idx))
    found = idx >= 0
    alpha[found] = level.alpha[idx[found]]
    return alpha + gamma * p_lower


def evaluate(lm: KneserNeyLM, tokens: np.ndarray, history: np.ndarray | None = None) -> dict:
  """Mean negative log-likelihood of `tokens` under `lm`, three ways."""
  lp = lm.log_probs(tokens, history=history)
  if lp.size == 0:
    raise ValueError('cannot evaluate an empty token stream')
  nll = float(-np.mean(lp))
  return {
      'nll_nats_per_token': nll,
      'perplexity': math.exp(nll),
      'bits_per_token': nll / math.log(2.0),
  }
