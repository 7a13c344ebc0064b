"""Reconstruction: Hinton & Salakhutdinov (2006)'s deep autoencoder, trained
end to end or with greedy layer-wise pre-training, in one pure train step.

Layer-wise pre-training (the autoencoder variant of the paper's procedure; the
paper pre-trains each layer as an RBM with contrastive divergence): for the
first `pretrain_steps_per_layer` steps, encoder layer 0 and its mirror decoder
layer are trained as a shallow autoencoder of the input; for the next as many
steps, encoder layer 1 and its mirror reconstruct layer 0's (frozen) code; and
so on up to the code layer. Then the whole stack is "unrolled" (it already is:
the layers are the deep autoencoder's own) and fine-tuned end to end. The
phase is a function of the step (`phase = min(step // P, L)`), so the whole
schedule is one jitted `(state, batch) -> (state, metrics)` with `lax.switch`
over the phases, and resuming mid-pre-training is exact. Parameters outside
the current phase get no update (their optimizer updates are masked).

Loss: cross-entropy between logistic outputs and targets in [0, 1] (pixels, or
the previous layer's logistic code), summed over units, as the paper trains
MNIST. Metric: the paper's "average squared reconstruction error per image",
sum over pixels of (reconstruction - pixel)^2, averaged over test images.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from research import config_lib, errors, parallel
from research.data import pipeline
from research.data.registry import DATASETS
from research.models.autoencoder import DeepAutoencoder
from research.models.common import flatten
from research.train_state import TrainState

MODELS = {'deep_autoencoder': DeepAutoencoder}
DATA_MODEL_FIELDS = ('input_dim',)
BEST_DURING_TRAINING = {'test_squared_error': min}
LOSSES = ('sigmoid_cross_entropy',)


def _bce_per_example(logits_BxD, targets_BxD):
  return jnp.sum(optax.sigmoid_binary_cross_entropy(logits_BxD, targets_BxD), axis=-1)


def _squared_error_per_example(logits_BxD, x_BxD):
  return jnp.sum((jax.nn.sigmoid(logits_BxD) - x_BxD) ** 2, axis=-1)


def layer_loss(params, x_BxD, k: int, *, model: DeepAutoencoder):
  """Pre-training loss of layer k: encoder k and decoder L-1-k reconstruct
  layer k's input, h_k = (frozen) encoder layers 0..k-1 applied to x."""
  apply = functools.partial(model.apply, {'params': params})
  h = x_BxD
  for j in range(k):
    h = apply(j, h, method=DeepAutoencoder.encode_layer)
  h = jax.lax.stop_gradient(h)
  code = apply(k, h, method=DeepAutoencoder.encode_layer)
  logits = apply(model.num_layers - 1 - k, code, method=DeepAutoencoder.decode_layer_logits)
  return jnp.mean(_bce_per_example(logits, h))


def full_loss(params, x_BxD, *, model: DeepAutoencoder):
  logits, _ = model.apply({'params': params}, x_BxD)
  return jnp.mean(_bce_per_example(logits, x_BxD))


def phase_mask(params, phase, num_layers: int):
  """1.0 for the parameters trained in `phase` (layer k < L: encoder_k and
  decoder_{L-1-k}; phase L: everything), else 0.0."""
  def mask(name):
    if name.startswith('encoder_'):
      k = int(name.split('_')[1])
    else:
      k = num_layers - 1 - int(name.split('_')[1])
    return jnp.logical_or(phase == num_layers, phase == k).astype(jnp.float32)
  return {name: jax.tree.map(lambda _, m=mask(name): m, sub) for name, sub in params.items()}


def train_step(state: TrainState, batch, *, model: DeepAutoencoder,
               tx: optax.GradientTransformation, schedule: optax.Schedule,
               steps_per_layer: int) -> tuple[TrainState, dict[str, jax.Array]]:
  num_layers = model.num_layers
  x_BxD = flatten(batch['image'])
  if steps_per_layer:
    phase = jnp.minimum(state.step // steps_per_layer, num_layers)
  else:
    phase = jnp.asarray(num_layers)
  branches = [functools.partial(layer_loss, k=k, model=model) for k in range(num_layers)]
  branches.append(functools.partial(full_loss, model=model))

  def objective(params):
    return jax.lax.switch(phase, branches, params, x_BxD)

  loss, grads = jax.value_and_grad(objective)(state.params)
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  updates = jax.tree.map(jnp.multiply, updates, phase_mask(updates, phase, num_layers))
  params = optax.apply_updates(state.params, updates)
  logits, _ = model.apply({'params': params}, x_BxD)
  metrics = {
      'loss': loss,
      'phase': phase.astype(jnp.float32),
      'squared_error': jnp.mean(_squared_error_per_example(logits, x_BxD)),
      'learning_rate': schedule(state.step),
      'grad_norm': optax.global_norm(grads),
      'param_norm': optax.global_norm(params),
  }
  return state.replace(step=state.step + 1, params=params, opt_state=opt_state), metrics


def eval_step(state: TrainState, batch, mask_B, *, model: DeepAutoencoder) -> dict[str, jax.Array]:
  x_BxD = flatten(batch['image'])
  logits, _ = model.apply({'params': state.params}, x_BxD)
  weights = mask_B.astype(jnp.float32)
  return {
      'squared_error_sum': jnp.sum(_squared_error_per_example(logits, x_BxD) * weights),
      'loss_sum': jnp.sum(_bce_per_example(logits, x_BxD) * weights),
      'count': jnp.sum(weights),
  }


def summarize_eval(sums: dict[str, Any], prefix: str) -> dict[str, Any]:
  return {
      f'{prefix}_squared_error': sums['squared_error_sum'] / sums['count'],
      f'{prefix}_loss': sums['loss_sum'] / sums['count'],
      f'{prefix}_examples': sums['count'],
  }


def check_config(config) -> None:
  config_lib.check_choice('loss', config.loss, dict.fromkeys(LOSSES))
  if DATASETS[config.dataset.name].labelled_text:
    raise errors.ConfigError('The autoencoder task reconstructs images or signals, not text.')
  if config.preprocess.standardize:
    raise errors.ConfigError(
        'The autoencoder reconstructs inputs in [0, 1] with logistic units: set '
        'preprocess.standardize=False.')
  if config.pretrain_steps_per_layer < 0:
    raise errors.ConfigError('pretrain_steps_per_layer must be >= 0 (0: end to end only).')


def state_shardings(abstract_state: TrainState, mesh) -> Any:
  return jax.tree.map(lambda _: parallel.replicated(mesh), abstract_state)


class AutoencoderFeeder(pipeline.InMemoryFeeder):
  """The images, in [0, 1]; the model's input size is theirs (flattened)."""

  @property
  def model_kwargs(self) -> dict[str, Any]:
    return {'input_dim': int(math.prod(self.input_shape))}


def make_feeder(config, mesh):
  if not DATASETS[config.dataset.name].in_memory:
    raise errors.ConfigError('The autoencoder task needs an in-memory dataset.')
  return AutoencoderFeeder(config, mesh)


def init_variables(model, feeder) -> Callable:
  def init(rng):
    variables = dict(model.init(rng, jnp.zeros((1, *feeder.input_shape))))
    return variables.pop('params'), variables
  return init


def bind_train_step(config, model, tx, schedule, rng) -> Callable:
  del rng  # Deterministic given the data order.
  return functools.partial(train_step, model=model, tx=tx, schedule=schedule,
                           steps_per_layer=config.pretrain_steps_per_layer)


def bind_eval_step(config, model) -> Callable:
  del config
  return functools.partial(eval_step, model=model)


def pca_fit(train_BxD: np.ndarray, num_components: int) -> tuple[np.ndarray, np.ndarray]:
  """(mean D, components KxD) of the train split: the top eigenvectors of its
  covariance (float64)."""
  x = train_BxD.astype(np.float64)
  mean = x.mean(0)
  cov = (x - mean).T @ (x - mean) / len(x)
  _, vecs = np.linalg.eigh(cov)
  return mean, vecs[:, ::-1][:, :num_components].T


def pca_reconstruct(x_BxD: np.ndarray, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
  return (x_BxD - mean) @ components.T @ components + mean


def plot_run(workdir, config, model, state, feeder) -> list[str]:
  from research import plots
  x_train = np.asarray(feeder.train_data['image']).reshape(feeder.train_size, -1)
  x_test = np.asarray(feeder.eval_images_host).reshape(feeder.eval_size, -1)
  mean, comps = pca_fit(x_train, config.model.sizes[-1])
  logits, codes = jax.jit(model.apply)({'params': state.params}, x_test[:2000])
  recon = np.asarray(jax.nn.sigmoid(logits))
  paths = [plots.plot_autoencoder_curves(workdir),
           plots.plot_reconstructions(x_test[:10], recon[:10],
                                      pca_reconstruct(x_test[:10], mean, comps),
                                      feeder.input_shape, config.model.sizes[-1],
                                      f'{workdir}/reconstructions.png')]
  mean2, comps2 = pca_fit(x_train, 2)
  paths.append(plots.plot_codes_2d(
      np.asarray(codes), (x_test[:2000] - mean2) @ comps2.T, feeder.eval_labels_host[:2000],
      f'{workdir}/codes_2d.png'))
  return paths
