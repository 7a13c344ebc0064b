"""Language modelling with recurrent networks: next-token cross-entropy,
truncated backpropagation through time with the state carried across steps.

The carry (each layer's hidden state, and the LSTM's cell state) lives in the
train state as `model_state['carry']`, sharded over the batch like the token
rows it belongs to, so it is checkpointed with the params: a run resumed at
step s continues from exactly the hidden state an uninterrupted run had.

Metrics: loss = mean negative log-likelihood in nats per token; perplexity =
exp(loss); bits_per_token = loss / ln 2 (bits per character for a
character-level model); accuracy = next-token top-1.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax

from research import config_lib, errors, fileio, parallel
from research.data import lm_corpus, lm_feeding
from research.models.rnn import CELLS, RNNLanguageModel
from research.plots import curves, language_model as lm_pictures
from research.tasks import base

MODELS = {'rnn_lm': RNNLanguageModel}


def _apply(model, params, tokens_BxT, carry, *, train, rng=None):
  rngs = {'dropout': rng} if rng is not None else None
  return model.apply({'params': params}, tokens_BxT, carry, train=train, rngs=rngs)


def loss(params, model_state, batch, rngs, constants, step, *, model, config):
  """Mean next-token cross-entropy of a window `batch` = {'inputs': BxT,
  'targets': BxT, 'reset': ()}.

  Truncated BPTT (Zaremba et al. 2014, §4): the window starts from the carry
  the previous window left (zeros when `reset`, at the start of an epoch), and
  gradients stop at the window's start (`stop_gradient` on the carry).
  """
  del constants, step, config
  carry = jax.tree.map(lambda c: jnp.where(batch['reset'], jnp.zeros_like(c), c),
                       model_state['carry'])
  carry = jax.lax.stop_gradient(carry)
  logits_BxTxV, new_carry = _apply(model, params, batch['inputs'], carry, train=True,
                                   rng=rngs['dropout'])
  loss_BxT = optax.softmax_cross_entropy_with_integer_labels(logits_BxTxV, batch['targets'])
  value = loss_BxT.mean()
  metrics = {
      'bits_per_token': value / math.log(2.0),
      'accuracy': jnp.mean(jnp.argmax(logits_BxTxV, -1) == batch['targets']),
  }
  return value, ({'carry': new_carry}, metrics)


def eval_step(params, model_state, batch, carry, constants, *, model, config):
  """Sums over the real (mask=True) tokens of a window; returns the carry for
  the next window of the same rows."""
  del model_state, constants, config
  logits_BxTxV, carry = _apply(model, params, batch['inputs'], carry, train=False)
  loss_BxT = optax.softmax_cross_entropy_with_integer_labels(logits_BxTxV, batch['targets'])
  weights = batch['mask'].astype(jnp.float32)
  correct_BxT = jnp.argmax(logits_BxTxV, -1) == batch['targets']
  sums = {
      'loss_sum': jnp.sum(loss_BxT * weights),
      'correct_sum': jnp.sum(correct_BxT * weights),
      'count': jnp.sum(weights),
  }
  return sums, carry


def summarize_eval(sums: dict[str, float], prefix: str) -> dict[str, float]:
  loss = sums['loss_sum'] / sums['count']
  return {
      f'{prefix}_loss': loss,
      f'{prefix}_perplexity': math.exp(min(loss, 700.0)),
      f'{prefix}_bits_per_token': loss / math.log(2.0),
      f'{prefix}_accuracy': sums['correct_sum'] / sums['count'],
      f'{prefix}_tokens': sums['count'],
  }


def check_config(config) -> None:
  config_lib.check_choice('text level', config.text.level, dict.fromkeys(lm_corpus.LEVELS))
  config_lib.check_choice('cell', config.model.cell, CELLS)
  if config.seq_len < 1:
    raise errors.ConfigError(f'seq_len must be >= 1, got {config.seq_len}.')
  if config.model.cell != 'lstm' and (config.model.forget_bias or config.model.record_gates):
    raise errors.ConfigError(
        f"model.forget_bias / model.record_gates apply to cell='lstm' only "
        f'(cell={config.model.cell!r}).')


def state_shardings(abstract_state, mesh) -> Any:
  """Params and optimizer state replicated; the carry split over the batch."""
  shardings = base.replicated_state(abstract_state, mesh)
  batch = parallel.batch_sharded(mesh)
  return shardings.replace(model_state={
      'carry': jax.tree.map(lambda _: batch, abstract_state.model_state['carry'])})


def make_feeder(config, mesh):
  return lm_feeding.TokenStreamFeeder(config, mesh)


def synthetic_feeder(config, mesh, shape: tuple[int, ...], num_classes: int):
  """Uniformly random token ids over a vocabulary of shape[0]."""
  del num_classes
  if len(shape) != 1:
    raise errors.ConfigError(f'--synthetic for language models is the vocabulary size; '
                             f'got {shape}.')
  return lm_feeding.TokenStreamFeeder(config, mesh, data=lm_feeding.synthetic(shape[0]))


def init_variables(model: RNNLanguageModel, feeder) -> Callable:
  """rng -> (params, {'carry': zeros for the global training batch})."""

  def init(rng):
    tokens = jnp.zeros((1, feeder.seq_len), jnp.int32)
    params = model.init({'params': rng}, tokens, model.initial_carry(1))['params']
    return params, {'carry': model.initial_carry(feeder.batch_size)}

  return init


def sync_workdir(workdir: str, config, feeder, constants) -> None:
  del config, constants
  lm_feeding.sync_vocabulary(workdir, feeder.vocab)


def plot_run(workdir, config, model, state, feeder) -> list[str]:
  paths = [curves.plot_lm_curves(workdir)]
  if config.model.cell == 'lstm':
    paths.append(lm_pictures.plot_lstm_gates(
        model, state.params, feeder.vocab, feeder.eval_ids_host,
        fileio.join(workdir, 'lstm_gates.png')))
  return paths


TASK = base.Task(
    name='language_model',
    models=MODELS,
    make_feeder=make_feeder,
    init_variables=init_variables,
    loss=loss,
    eval_step=eval_step,
    summarize_eval=summarize_eval,
    check_config=check_config,
    data_model_fields=('vocab_size',),
    best_during_training={'validation_bits_per_token': min},
    rng_streams=('dropout',),
    state_shardings=state_shardings,
    sync_workdir=sync_workdir,
    plot_run=plot_run,
    synthetic_feeder=synthetic_feeder,
)
