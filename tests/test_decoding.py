"""Show and Tell's decoder and the searches over it: beam search against
exhaustive search and greedy decoding, teacher forcing against stepping."""

from __future__ import annotations

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from research import decoding
from research.models.captioning import ShowAndTell

VOCAB, START, END = 5, 1, 2


@pytest.fixture(scope='module')
def tiny():
  model = ShowAndTell(vocab_size=VOCAB, embed_size=6, hidden_size=7, dropout_rate=0.5)
  features = jax.random.normal(jax.random.key(1), (3, 4))
  params = model.init(jax.random.key(0), features, jnp.zeros((3, 2), jnp.int32))['params']
  # Larger weights than the initialisation's, so that the searches disagree
  # with naive choices often enough for the tests to mean something.
  params = jax.tree.map(lambda p: 3.0 * p, params)
  start = model.apply({'params': params}, features, method=ShowAndTell.start)
  step = functools.partial(model.apply, {'params': params}, method=ShowAndTell.step)
  return model, params, features, start, step


def log_likelihood(step, carry, row, sequence):
  """log p(sequence | image `row`), stepping one sequence alone; after END
  the sequence is over (what the searches score)."""
  carry = jax.tree.map(lambda x: x[row:row + 1], carry)
  total, last = 0.0, START
  for token in sequence:
    carry, logits = step(carry, jnp.asarray([last]))
    total += float(jax.nn.log_softmax(logits[0])[token])
    if token == END:
      break
    last = token
  return total


def test_beam_search_as_wide_as_the_vocabulary_finds_the_exhaustive_optimum(tiny):
  _, _, features, start, step = tiny
  length = 2
  beams = decoding.beam_search(step, start, batch_size=3, beam_size=VOCAB, max_length=length,
                               start_id=START, end_id=END)
  for row in range(3):
    scored = {}
    for sequence in itertools.product(range(VOCAB), repeat=length):
      cut = sequence[:sequence.index(END) + 1] if END in sequence else sequence
      scored[cut] = log_likelihood(step, start, row, cut)
    best = max(scored, key=scored.get)
    found = tuple(int(t) for t in beams.tokens_BxKxL[row, 0][:len(best)])
    assert found == best
    assert float(beams.scores_BxK[row, 0]) == pytest.approx(scored[best], abs=1e-4)
    # Every kept beam's score is its sequence's likelihood, best first.
    kept = [float(s) for s in beams.scores_BxK[row]]
    assert kept == sorted(kept, reverse=True)
    for beam in range(VOCAB):
      tokens = [int(t) for t in beams.tokens_BxKxL[row, beam]]
      cut = tuple(tokens[:tokens.index(END) + 1] if END in tokens else tokens)
      assert kept[beam] == pytest.approx(scored[cut], abs=1e-4)


def test_beam_size_one_is_greedy_search(tiny):
  _, _, _, start, step = tiny
  beams = decoding.beam_search(step, start, batch_size=3, beam_size=1, max_length=6,
                               start_id=START, end_id=END)
  tokens, scores = decoding.greedy(step, start, batch_size=3, max_length=6, start_id=START,
                                   end_id=END)
  np.testing.assert_array_equal(beams.tokens_BxKxL[:, 0], tokens)
  np.testing.assert_allclose(beams.scores_BxK[:, 0], scores, rtol=1e-5)


def test_teacher_forcing_equals_stepping_word_by_word(tiny):
  model, params, features, start, step = tiny
  tokens = jnp.asarray([[START, 3, 4, 0], [START, 0, 0, 3], [START, 4, 2, 2]])
  logits_BxTxV = model.apply({'params': params}, features, tokens)
  carry = start
  for t in range(tokens.shape[1]):
    carry, logits = step(carry, tokens[:, t])
    np.testing.assert_allclose(logits_BxTxV[:, t], logits, rtol=1e-5, atol=1e-5)


def test_strip_cuts_at_the_first_end():
  assert decoding.strip([3, 4, END, 3, END], END) == [3, 4]
  assert decoding.strip([3, 4], END) == [3, 4]


def test_banned_tokens_are_never_produced_and_the_rest_renormalised(tiny):
  _, _, _, start, step = tiny
  banned = (0, 3)
  beams = decoding.beam_search(step, start, batch_size=3, beam_size=4, max_length=6,
                               start_id=START, end_id=END, banned_ids=banned)
  assert not np.isin(np.asarray(beams.tokens_BxKxL), banned).any()
  tokens, scores = decoding.greedy(step, start, batch_size=3, max_length=6, start_id=START,
                                   end_id=END, banned_ids=banned)
  assert not np.isin(np.asarray(tokens), banned).any()
  np.testing.assert_array_equal(
      decoding.beam_search(step, start, batch_size=3, beam_size=1, max_length=6, start_id=START,
                           end_id=END, banned_ids=banned).tokens_BxKxL[:, 0], tokens)
  assert np.isfinite(np.asarray(scores)).all()
