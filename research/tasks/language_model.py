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

import functools
import math
import os
from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax
from jax.sharding import NamedSharding, PartitionSpec as P

from research import config_lib, errors, parallel, plots
from research.data import lm_corpus, lm_feeding
from research.models.rnn import CELLS, RNNLanguageModel
from research.train_state import TrainState

MODELS = {'rnn_lm': RNNLanguageModel}

# Model fields filled in from the data rather than the config.
DATA_MODEL_FIELDS = ('vocab_size',)

# Metrics whose best value over the run's evaluations goes into results.json.
BEST_DURING_TRAINING = {'validation_bits_per_token': min}


def _apply(apply_fn, params, tokens_BxT, carry, *, train, rng=None):
  rngs = {'dropout': rng} if rng is not None else None
  return apply_fn({'params': params}, tokens_BxT, carry, train=train, rngs=rngs)


def train_step(
    state: TrainState,
    batch: dict[str, jax.Array],
    *,
    apply_fn: Callable[..., Any],
    tx: optax.GradientTransformation,
    schedule: optax.Schedule,
    rng: jax.Array,
) -> tuple[TrainState, dict[str, jax.Array]]:
  """One update on a window `batch` = {'inputs': BxT, 'targets': BxT, 'reset': ()}.

  Truncated BPTT (Zaremba et al. 2014, §4): the window starts from the carry
  the previous window left (zeros when `reset`, at the start of an epoch), and
  gradients stop at the window's start (`stop_gradient` on the carry).
  """
  step_rng = jax.random.fold_in(rng, state.step)
  carry = jax.tree.map(lambda c: jnp.where(batch['reset'], jnp.zeros_like(c), c),
                       state.model_state['carry'])
  carry = jax.lax.stop_gradient(carry)

  def objective(params):
    logits_BxTxV, new_carry = _apply(apply_fn, params, batch['inputs'], carry,
                                     train=True, rng=step_rng)
    loss_BxT = optax.softmax_cross_entropy_with_integer_labels(logits_BxTxV, batch['targets'])
    return loss_BxT.mean(), (logits_BxTxV, new_carry)

  (loss, (logits_BxTxV, new_carry)), grads = jax.value_and_grad(
      objective, has_aux=True)(state.params)
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  metrics = {
      'loss': loss,
      'bits_per_token': loss / math.log(2.0),
      'accuracy': jnp.mean(jnp.argmax(logits_BxTxV, -1) == batch['targets']),
      'learning_rate': schedule(state.step),
      'grad_norm': optax.global_norm(grads),
      'param_norm': optax.global_norm(params),
  }
  new_state = state.replace(step=state.step + 1, params=params, opt_state=opt_state,
                            model_state={'carry': new_carry})
  return new_state, metrics


def eval_step(
    state: TrainState,
    batch: dict[str, jax.Array],
    carry: Any,
    *,
    apply_fn: Callable[..., Any],
) -> tuple[dict[str, jax.Array], Any]:
  """Sums over the real (mask=True) tokens of a window; returns the carry for
  the next window of the same rows."""
  logits_BxTxV, carry = _apply(apply_fn, state.params, batch['inputs'], carry, train=False)
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


def state_shardings(abstract_state: TrainState, mesh) -> Any:
  """Params and optimizer state replicated; the carry split over the batch."""
  repl = parallel.replicated(mesh)
  shardings = jax.tree.map(lambda _: repl, abstract_state)
  batch = NamedSharding(mesh, P(parallel.DATA_AXIS))
  return shardings.replace(model_state={
      'carry': jax.tree.map(lambda _: batch, abstract_state.model_state['carry'])})


def make_feeder(config, mesh):
  return lm_feeding.TextFeeder(config, mesh)


def init_variables(model: RNNLanguageModel, feeder) -> Callable:
  """rng -> (params, {'carry': zeros for the global training batch})."""

  def init(rng):
    tokens = jnp.zeros((1, feeder.seq_len), jnp.int32)
    params = model.init({'params': rng}, tokens, model.initial_carry(1))['params']
    return params, {'carry': model.initial_carry(feeder.batch_size)}

  return init


def bind_train_step(config, model, tx, schedule, rng) -> Callable:
  return functools.partial(train_step, apply_fn=model.apply, tx=tx, schedule=schedule,
                           rng=rng)


def bind_eval_step(config, model) -> Callable:
  return functools.partial(eval_step, apply_fn=model.apply)


def plot_run(workdir, config, model, state, feeder) -> list[str]:
  paths = [plots.plot_lm_curves(workdir)]
  if config.model.cell == 'lstm':
    paths.append(plots.plot_lstm_gates(
        model, state.params, feeder.vocab, feeder.eval_ids_host,
        os.path.join(workdir, 'lstm_gates.png')))
  return paths
