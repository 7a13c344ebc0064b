"""CTC decoding and error rates (research/ctc.py) on hand-made cases, and
prefix beam search against brute force and optax's CTC loss."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from research import ctc


def test_greedy_decoding_merges_repeats_and_drops_blanks():
  path = [0, 1, 1, 0, 1, 2, 2, 0, 0, 3]  # blank = 0
  log_probs = np.log(np.eye(4)[path] * 0.97 + 0.01)
  assert ctc.greedy_decode(log_probs) == [1, 1, 2, 3]
  assert ctc.greedy_decode(np.log(np.eye(4)[[0, 0]] * 0.97 + 0.01)) == []


def labelling_probability(probs_TxV, labels, blank=0):
  """Sum over every frame path that collapses to `labels` (brute force)."""
  t, v = probs_TxV.shape
  total = 0.0
  for path in itertools.product(range(v), repeat=t):
    if ctc.greedy_decode(np.log(np.eye(v)[list(path)] + 1e-12), blank) == list(labels):
      total += np.prod(probs_TxV[np.arange(t), path])
  return total


def test_prefix_beam_search_as_wide_as_every_labelling_finds_the_most_probable_one():
  rng = np.random.default_rng(0)
  logits = rng.normal(size=(4, 3)) * 2
  probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
  every = {tuple(ctc.greedy_decode(np.log(np.eye(3)[list(p)] + 1e-12)))
           for p in itertools.product(range(3), repeat=4)}
  brute = {labels: labelling_probability(probs, labels) for labels in every}
  best = max(brute, key=brute.get)
  found = ctc.prefix_beam_search(np.log(probs), beam_size=len(every))
  assert found[0][0] == best
  for labels, log_p in found:
    np.testing.assert_allclose(np.exp(log_p), brute[labels], rtol=1e-9)


def test_prefix_beam_scores_equal_optax_ctc_loss():
  import optax
  rng = np.random.default_rng(1)
  logits = rng.normal(size=(1, 6, 4)).astype(np.float32)
  log_probs = np.asarray(logits - np.log(np.exp(logits).sum(-1, keepdims=True)))[0]
  # A beam wide enough to keep every prefix: each score is then the whole
  # sum over alignments, which optax's loss computes by the forward algorithm
  # (a narrower beam prunes prefixes and can only under-count).
  for labels, log_p in ctc.prefix_beam_search(log_probs, beam_size=10_000)[:3]:
    if not labels:
      continue
    padded = np.zeros((1, 4), np.int32)
    padded[0, :len(labels)] = labels
    loss = optax.ctc_loss(logits, np.zeros((1, 6), np.float32), padded,
                          (np.arange(4) >= len(labels))[None].astype(np.float32))
    np.testing.assert_allclose(-float(loss[0]), log_p, rtol=1e-4)


def test_word_and_character_error_rates_by_hand():
  assert ctc.edit_distance('kitten', 'sitting') == 3
  refs = ['please enter your number', 'thank you']
  hyps = ['please enter you number now', 'thank you']
  # one substitution (your -> you) + one insertion (now) over 6 reference words
  assert ctc.error_rate(refs, hyps, unit='word') == pytest.approx(2 / 6)
  # characters: 'your' -> 'you' deletes 'r'; ' now' inserts 4; over 24 + 9 characters
  assert ctc.error_rate(refs, hyps, unit='char') == pytest.approx(5 / 33)
  with pytest.raises(ValueError, match='references are empty'):
    ctc.error_rate([''], ['a'], unit='word')


def test_corpus_error_rates_equal_the_sum_of_our_edit_distances():
  # jiwer computes error_rate; the edit distance here is our own reading of
  # Levenshtein's definition: the two must agree on random texts.
  rng = np.random.default_rng(2)
  vocab = ['a', 'to', 'press', 'one', 'the', 'key']
  refs = [' '.join(rng.choice(vocab, rng.integers(1, 7))) for _ in range(20)]
  hyps = [' '.join(rng.choice(vocab, rng.integers(0, 7))) for _ in range(20)]
  words = sum(ctc.edit_distance(r.split(), h.split()) for r, h in zip(refs, hyps))
  chars = sum(ctc.edit_distance(list(r), list(h)) for r, h in zip(refs, hyps))
  assert ctc.error_rate(refs, hyps, unit='word') == pytest.approx(
      words / sum(len(r.split()) for r in refs))
  assert ctc.error_rate(refs, hyps, unit='char') == pytest.approx(
      chars / sum(len(r) for r in refs))


def test_pruned_beam_search_keeps_the_best_labelling_of_a_peaked_output():
  rng = np.random.default_rng(3)
  logits = rng.normal(size=(12, 6))
  logits[np.arange(12), rng.integers(0, 6, 12)] += 8  # one clear label per frame
  log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  full = ctc.prefix_beam_search(log_probs, beam_size=8)
  pruned = ctc.prefix_beam_search(log_probs, beam_size=8, prune_below=-6.0)
  assert pruned[0][0] == full[0][0] == tuple(ctc.greedy_decode(log_probs))
  assert pruned[0][1] == pytest.approx(full[0][1], abs=1e-3)
