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
schedule runs in the trainer's one generic step: the objective `lax.switch`es
over the phases, and `update_mask` keeps the parameters outside the current
phase unchanged (their optimizer updates are masked); resuming
mid-pre-training is exact.

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

from research import config_lib, errors
from research.data import feeding, images
from research.data.registry import DATASETS
from research.models.autoencoder import DeepAutoencoder
from research.models.common import flatten
from research.plots import autoencoder as pictures, curves
from research.tasks import base

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


def loss(params, model_state, batch, rngs, constants, step, *, model: DeepAutoencoder,
         config):
  """The current phase's loss: layer k's shallow autoencoder while k is being
  pre-trained, then the deep autoencoder's (`lax.switch` on the phase)."""
  del rngs, constants
  num_layers = model.num_layers
  x_BxD = flatten(batch['image'])
  phase = current_phase(step, config.pretrain_steps_per_layer, num_layers)
  branches = [functools.partial(layer_loss, k=k, model=model) for k in range(num_layers)]
  branches.append(functools.partial(full_loss, model=model))
  value = jax.lax.switch(phase, branches, params, x_BxD)
  # The paper's metric on the training batch (before this step's update).
  logits, _ = model.apply({'params': params}, x_BxD)
  metrics = {
      'phase': phase.astype(jnp.float32),
      'squared_error': jnp.mean(_squared_error_per_example(logits, x_BxD)),
  }
  return value, (model_state, metrics)


def current_phase(step, steps_per_layer: int, num_layers: int) -> jax.Array:
  """Layer k < L is pre-trained during steps [k P, (k+1) P); phase L
  (end-to-end fine-tuning) follows, and is the only phase when P = 0."""
  if steps_per_layer:
    return jnp.minimum(step // steps_per_layer, num_layers)
  return jnp.asarray(num_layers)


def update_mask(updates, step, *, model: DeepAutoencoder, config):
  """Parameters outside the current phase get no update (the optimizer's
  state still sees their gradients, which are zero)."""
  phase = current_phase(step, config.pretrain_steps_per_layer, model.num_layers)
  return phase_mask(updates, phase, model.num_layers)


def eval_step(params, model_state, batch, carry, constants, *, model: DeepAutoencoder,
              config):
  del model_state, constants, config
  x_BxD = flatten(batch['image'])
  logits, _ = model.apply({'params': params}, x_BxD)
  weights = batch['mask'].astype(jnp.float32)
  sums = {
      'squared_error_sum': jnp.sum(_squared_error_per_example(logits, x_BxD) * weights),
      'loss_sum': jnp.sum(_bce_per_example(logits, x_BxD) * weights),
      'count': jnp.sum(weights),
  }
  return sums, carry


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


def make_feeder(config, mesh):
  """The images in [0, 1]; the model's input size is theirs (flattened)."""
  if not DATASETS[config.dataset.name].in_memory:
    raise errors.ConfigError('The autoencoder task needs an in-memory dataset.')
  return AutoencoderFeeder(config, mesh, data=images.load(config))


class AutoencoderFeeder(feeding.InMemoryFeeder):

  @property
  def model_kwargs(self) -> dict[str, Any]:
    return {'input_dim': int(math.prod(self.input_shape))}


def init_variables(model, feeder) -> Callable:
  def init(rng):
    variables = dict(model.init(rng, jnp.zeros((1, *feeder.input_shape))))
    return variables.pop('params'), variables
  return init


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
  x_train = np.asarray(feeder.train_data['image']).reshape(feeder.train_size, -1)
  x_test = np.asarray(feeder.eval_inputs_host).reshape(feeder.eval_size, -1)
  mean, comps = pca_fit(x_train, config.model.sizes[-1])
  logits, codes = model.apply({'params': state.params}, x_test[:2000])
  recon = np.asarray(jax.nn.sigmoid(logits))
  paths = [curves.plot_autoencoder_curves(workdir),
           pictures.plot_reconstructions(x_test[:10], recon[:10],
                                      pca_reconstruct(x_test[:10], mean, comps),
                                      feeder.input_shape, config.model.sizes[-1],
                                      f'{workdir}/reconstructions.png')]
  mean2, comps2 = pca_fit(x_train, 2)
  paths.append(pictures.plot_codes_2d(
      np.asarray(codes), (x_test[:2000] - mean2) @ comps2.T, feeder.eval_labels_host[:2000],
      f'{workdir}/codes_2d.png'))
  return paths


TASK = base.Task(
    name='autoencoder',
    models={'deep_autoencoder': DeepAutoencoder},
    make_feeder=make_feeder,
    init_variables=init_variables,
    loss=loss,
    eval_step=eval_step,
    summarize_eval=summarize_eval,
    check_config=check_config,
    data_model_fields=('input_dim',),
    best_during_training={'test_squared_error': min},
    update_mask=update_mask,
    plot_run=plot_run,
)
