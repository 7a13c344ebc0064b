"""Pieces the demos share: full-batch training and saving figures."""

from __future__ import annotations

import functools

import jax
import optax

from research import fileio


def softmax_cross_entropy(logits_BxK, labels_B):
  return optax.softmax_cross_entropy_with_integer_labels(logits_BxK, labels_B).mean()


def squared_error(preds_Bx1, targets_B):
  return ((preds_Bx1[:, 0] - targets_B) ** 2).mean()


def fit(model, params, x, y, *, loss_fn, steps: int, learning_rate: float):
  """Adam on the whole (x, y) for `steps` steps, its learning rate decayed to 0
  on a cosine (so the final params do not hover at Adam's noise floor);
  returns (params, loss per step).

  One jitted `lax.scan`, so a demo costs one compile per model shape rather
  than a Python loop of dispatches. `model` and `loss_fn` are static: flax
  modules hash by their fields, so equal models on equal shapes share the
  compiled program.
  """
  return _fit(model, loss_fn, steps, learning_rate, params, x, y)


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3))
def _fit(model, loss_fn, steps, learning_rate, params, x, y):
  tx = optax.adam(optax.cosine_decay_schedule(learning_rate, steps))

  def step(carry, _):
    params, opt_state = carry
    loss, grads = jax.value_and_grad(
        lambda p: loss_fn(model.apply({'params': p}, x), y))(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return (optax.apply_updates(params, updates), opt_state), loss

  (params, _), losses = jax.lax.scan(step, (params, tx.init(params)), length=steps)
  return params, losses


def save_figure(fig, path: str) -> str:
  fig.tight_layout()
  return fileio.save_figure(fig, path)  # Creates the folder.
