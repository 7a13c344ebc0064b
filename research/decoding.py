"""Decoding a sequence model: greedy and beam search, as pure JAX functions
of a step function, so they jit and run on any device.

`step_fn(carry, tokens_N) -> (carry, logits_NxV)` advances N independent
sequences by one token (e.g. `ShowAndTell.step` bound to its params); every
leaf of `carry` has N rows. Both searches run `max_length` steps (a fixed
shape: one compilation); a sequence that has produced `end_id` is finished:
it keeps its score and is padded with `end_id`.

Beam search (Vinyals et al. 2015, section 4.3.1: beam 20 on COCO, and "beam
size 1 (i.e., greedy search) ... degraded our results by 2 BLEU points on
average") keeps, for each input, the `beam_size` highest-scoring prefixes
(sum of token log-probabilities); at each step it extends every kept prefix
by every token and keeps the best `beam_size` of those. No length
normalisation: the score is the sequence's log likelihood, as in the paper.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp


@dataclasses.dataclass
class Beams:
  tokens_BxKxL: jax.Array  # each input's beams, best first; end_id after the end
  scores_BxK: jax.Array    # their log likelihoods (sum over tokens up to and with end_id)
  finished_BxK: jax.Array  # whether the beam produced end_id within max_length


jax.tree_util.register_dataclass(
    Beams, data_fields=['tokens_BxKxL', 'scores_BxK', 'finished_BxK'], meta_fields=[])


def _tile(tree: Any, k: int) -> Any:
  """Each row repeated k times, consecutively: B rows -> B*k rows."""
  return jax.tree.map(lambda x: jnp.repeat(x, k, axis=0), tree)


def _log_probs(logits_NxV, banned_ids: tuple[int, ...]):
  """Log-probabilities over the tokens that may be produced: `banned_ids`
  (e.g. <pad>, <start>, <unk>) get none; the rest are renormalised."""
  logits = logits_NxV.astype(jnp.float32)
  if banned_ids:
    logits = logits.at[:, jnp.asarray(banned_ids)].set(-jnp.inf)
  return jax.nn.log_softmax(logits)


def beam_search(step_fn: Callable, carry: Any, *, batch_size: int, beam_size: int,
                max_length: int, start_id: int, end_id: int,
                banned_ids: tuple[int, ...] = ()) -> Beams:
  """The `beam_size` best sequences of up to `max_length` tokens for each of
  `batch_size` inputs, whose states after the input are `carry`; tokens in
  `banned_ids` are never produced."""
  b, k = batch_size, beam_size
  carry = _tile(carry, k)
  tokens = jnp.full((b, k, max_length), end_id, jnp.int32)
  # One live beam per input at first, so the k beams do not start as copies.
  scores = jnp.tile(jnp.asarray([0.0] + [-jnp.inf] * (k - 1), jnp.float32), (b, 1))
  finished = jnp.zeros((b, k), bool)
  last = jnp.full((b, k), start_id, jnp.int32)
  rows = jnp.arange(b)[:, None]

  def body(t, state):
    carry, tokens, scores, finished, last = state
    carry, logits_NxV = step_fn(carry, last.reshape(b * k))
    vocab = logits_NxV.shape[-1]
    logp_BxKxV = _log_probs(logits_NxV, banned_ids).reshape(b, k, vocab)
    # A finished beam can only be extended by end_id, at no cost.
    frozen_V = jnp.full((vocab,), -jnp.inf).at[end_id].set(0.0)
    logp_BxKxV = jnp.where(finished[..., None], frozen_V, logp_BxKxV)
    total_BxKV = (scores[..., None] + logp_BxKxV).reshape(b, k * vocab)
    scores, index_BxK = jax.lax.top_k(total_BxKV, k)
    beam_BxK, token_BxK = index_BxK // vocab, (index_BxK % vocab).astype(jnp.int32)
    tokens = tokens[rows, beam_BxK].at[:, :, t].set(token_BxK)
    finished = finished[rows, beam_BxK] | (token_BxK == end_id)
    carry = jax.tree.map(
        lambda x: x.reshape(b, k, *x.shape[1:])[rows, beam_BxK].reshape(x.shape), carry)
    return carry, tokens, scores, finished, token_BxK

  _, tokens, scores, finished, _ = jax.lax.fori_loop(
      0, max_length, body, (carry, tokens, scores, finished, last))
  return Beams(tokens, scores, finished)


def greedy(step_fn: Callable, carry: Any, *, batch_size: int, max_length: int,
           start_id: int, end_id: int, banned_ids: tuple[int, ...] = ()
           ) -> tuple[jax.Array, jax.Array]:
  """(tokens_BxL, log likelihood_B): the most likely token at every step."""
  def body(t, state):
    carry, tokens, scores, finished, last = state
    carry, logits = step_fn(carry, last)
    logp = _log_probs(logits, banned_ids)
    token = jnp.where(finished, end_id, jnp.argmax(logp, -1).astype(jnp.int32))
    scores = scores + jnp.where(finished, 0.0, logp[jnp.arange(batch_size), token])
    return (carry, tokens.at[:, t].set(token), scores, finished | (token == end_id), token)

  init = (carry, jnp.full((batch_size, max_length), end_id, jnp.int32),
          jnp.zeros((batch_size,), jnp.float32), jnp.zeros((batch_size,), bool),
          jnp.full((batch_size,), start_id, jnp.int32))
  _, tokens, scores, _, _ = jax.lax.fori_loop(0, max_length, body, init)
  return tokens, scores


def strip(tokens_L, end_id: int) -> list[int]:
  """A decoded row as a list of ids, up to (not including) the first end_id."""
  out = []
  for t in [int(t) for t in tokens_L]:
    if t == end_id:
      break
    out.append(t)
  return out
