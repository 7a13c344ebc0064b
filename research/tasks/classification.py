"""Supervised classification: losses, one training step, one exact eval step.

Both steps are pure functions of arrays; `research.train` binds the model's
`apply`, the optimizer and the RNG key (`bind_train_step`) and the feeder jits
them. The other module-level names are what `research.train` asks every task.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax

from research import config_lib, errors, parallel, plots
from research.data import augment, pipeline
from research.data.registry import DATASETS
from research.models import MODELS, TEXT_MODELS  # noqa: F401  (MODELS: the task's registry)
from research.train_state import TrainState

# Model fields filled in from the data rather than the config.
DATA_MODEL_FIELDS = ('num_classes', 'vocab_size')

# Metrics whose best value over the run's evaluations goes into results.json.
BEST_DURING_TRAINING = {'test_accuracy': max}

# Per-example losses of (logits_BxK, labels_B) -> loss_B.
LOSSES: dict[str, Callable[[jax.Array, jax.Array], jax.Array]] = {
    # Softmax + cross-entropy: multinomial logistic regression on the logits.
    'softmax_cross_entropy': optax.softmax_cross_entropy_with_integer_labels,
    # Rosenblatt's criterion, multiclass: max_k s_k - s_y (zero once correct).
    'perceptron': optax.losses.multiclass_perceptron_loss,
    # Crammer-Singer multiclass hinge: max_k (s_k + [k != y]) - s_y.
    'hinge': optax.losses.multiclass_hinge_loss,
}


def _apply(apply_fn, params, model_state, images, *, train, rng=None):
  variables = {'params': params, **model_state}
  rngs = {'dropout': rng} if rng is not None else None
  if train and model_state:
    logits, new_state = apply_fn(
        variables, images, train=True, rngs=rngs, mutable=list(model_state))
    return logits, new_state
  return apply_fn(variables, images, train=train, rngs=rngs), model_state


def train_step(
    state: TrainState,
    batch: dict[str, jax.Array],
    *,
    apply_fn: Callable[..., Any],
    tx: optax.GradientTransformation,
    loss_name: str,
    schedule: optax.Schedule,
    rng: jax.Array,
) -> tuple[TrainState, dict[str, jax.Array]]:
  """One SGD update on `batch` = {'image': BxHxWxC, 'label': B}."""
  # A fresh dropout key per step without threading keys through the loop:
  # resuming at step s reproduces exactly the keys of an uninterrupted run.
  step_rng = jax.random.fold_in(rng, state.step)
  loss_fn = LOSSES[loss_name]

  def objective(params):
    logits_BxK, new_model_state = _apply(
        apply_fn, params, state.model_state, batch['image'], train=True, rng=step_rng)
    loss = loss_fn(logits_BxK, batch['label']).mean()
    return loss, (logits_BxK, new_model_state)

  (loss, (logits_BxK, new_model_state)), grads = jax.value_and_grad(
      objective, has_aux=True)(state.params)
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  metrics = {
      'loss': loss,
      'accuracy': jnp.mean(jnp.argmax(logits_BxK, -1) == batch['label']),
      'learning_rate': schedule(state.step),
      'grad_norm': optax.global_norm(grads),
      'param_norm': optax.global_norm(params),
  }
  new_state = state.replace(
      step=state.step + 1, params=params, opt_state=opt_state,
      model_state=new_model_state)
  return new_state, metrics


def eval_step(
    state: TrainState,
    batch: dict[str, jax.Array],
    mask_B: jax.Array,
    *,
    apply_fn: Callable[..., Any],
    loss_name: str,
) -> dict[str, jax.Array]:
  """Sums over the real (mask=True) examples of a padded batch."""
  logits_BxK, _ = _apply(apply_fn, state.params, state.model_state,
                         batch['image'], train=False)
  loss_B = LOSSES[loss_name](logits_BxK, batch['label'])
  correct_B = jnp.argmax(logits_BxK, -1) == batch['label']
  weights = mask_B.astype(jnp.float32)
  return {
      'loss_sum': jnp.sum(loss_B * weights),
      'correct_sum': jnp.sum(correct_B * weights),
      'count': jnp.sum(weights),
  }


def summarize_eval(sums: dict[str, float], prefix: str) -> dict[str, float]:
  return {
      f'{prefix}_loss': sums['loss_sum'] / sums['count'],
      f'{prefix}_accuracy': sums['correct_sum'] / sums['count'],
      f'{prefix}_examples': sums['count'],
  }


def check_config(config) -> None:
  config_lib.check_choice('loss', config.loss, LOSSES)
  text_data = DATASETS[config.dataset.name].labelled_text
  if (config.model.name in TEXT_MODELS) != text_data:
    raise errors.ConfigError(
        f'Model {config.model.name!r} reads '
        f'{"word ids" if config.model.name in TEXT_MODELS else "images or signals"}, but '
        f'dataset {config.dataset.name!r} holds {"texts" if text_data else "images or signals"}.')


def state_shardings(abstract_state: TrainState, mesh) -> Any:
  """Everything replicated (data parallelism: each device holds the whole state)."""
  return jax.tree.map(lambda _: parallel.replicated(mesh), abstract_state)


def make_feeder(config, mesh):
  return pipeline.make_feeder(config, mesh)


def init_variables(model, feeder) -> Callable:
  """rng -> (params, other collections such as batch_stats)."""

  def init(rng):
    variables = dict(model.init({'params': rng, 'dropout': rng},
                                jnp.zeros((1, *feeder.input_shape)), train=False))
    return feeder.initial_params(variables.pop('params')), variables

  return init


def bind_train_step(config, model, tx, schedule, rng) -> Callable:
  """(state, batch) -> (state, metrics): augmentation, then `train_step`."""
  dropout_rng, augment_rng = jax.random.split(rng)
  step = functools.partial(train_step, apply_fn=model.apply, tx=tx, loss_name=config.loss,
                           schedule=schedule, rng=dropout_rng)
  augment_fn = functools.partial(augment.apply, config=config.augment, rng=augment_rng)
  return lambda state, batch: step(state, augment_fn(batch, state.step))


def bind_eval_step(config, model) -> Callable:
  return functools.partial(eval_step, apply_fn=model.apply, loss_name=config.loss)


def plot_run(workdir, config, model, state, feeder) -> list[str]:
  return plots.plot_run(workdir, config, model, state, feeder)
