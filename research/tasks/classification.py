"""Supervised classification of images, 1-D signals and texts: a choice of
per-example losses on the logits, exact test accuracy and loss.

The objective (`loss`) and the eval step (`eval_step`) are pure functions of
arrays; the trainer's generic step differentiates the objective, and the
task record at the bottom (`TASK`) is what the trainer reads.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from research import config_lib, errors
from research.data import augment, feeding, images, streaming, textcls_feeding
from research.data.registry import DATASETS
from research.models import MODELS, TEXT_MODELS
from research.plots import classification as pictures
from research.tasks import base

# Per-example losses of (logits_BxK, labels_B) -> loss_B.
LOSSES: dict[str, Callable[[jax.Array, jax.Array], jax.Array]] = {
    # Softmax + cross-entropy: multinomial logistic regression on the logits.
    'softmax_cross_entropy': optax.softmax_cross_entropy_with_integer_labels,
    # Rosenblatt's criterion, multiclass: max_k s_k - s_y (zero once correct).
    'perceptron': optax.losses.multiclass_perceptron_loss,
    # Crammer-Singer multiclass hinge: max_k (s_k + [k != y]) - s_y.
    'hinge': optax.losses.multiclass_hinge_loss,
}


def apply_model(model, params, model_state, inputs, *, train: bool, rng=None):
  """(logits, model_state): updated running statistics (batch norm) when
  training a model that has them, else the given ones."""
  variables = {'params': params, **model_state}
  rngs = {'dropout': rng} if rng is not None else None
  if train and model_state:
    return model.apply(variables, inputs, train=True, rngs=rngs, mutable=list(model_state))
  return model.apply(variables, inputs, train=train, rngs=rngs), model_state


def training_forward(params, model_state, batch, rngs, *, model, config):
  """The augmented batch (augmentation runs inside the compiled step) and the
  model's training-mode logits on it: what every classification objective
  starts from."""
  batch = augment.apply(batch, config=config.augment, rng=rngs['augment'])
  logits_BxK, model_state = apply_model(model, params, model_state, batch['image'],
                                        train=True, rng=rngs['dropout'])
  return batch, logits_BxK, model_state


def loss(params, model_state, batch, rngs, constants, step, *, model, config):
  """Mean per-example loss on `batch` = {'image': inputs, 'label': B}."""
  del constants, step
  batch, logits_BxK, model_state = training_forward(
      params, model_state, batch, rngs, model=model, config=config)
  value = LOSSES[config.loss](logits_BxK, batch['label']).mean()
  return value, (model_state, {'accuracy': jnp.mean(jnp.argmax(logits_BxK, -1) == batch['label'])})


def eval_step(params, model_state, batch, carry, constants, *, model, config):
  """Sums over the real (mask=True) examples of a padded batch."""
  del constants
  logits_BxK, _ = apply_model(model, params, model_state, batch['image'], train=False)
  loss_B = LOSSES[config.loss](logits_BxK, batch['label'])
  correct_B = jnp.argmax(logits_BxK, -1) == batch['label']
  weights = batch['mask'].astype(jnp.float32)
  sums = {
      'loss_sum': jnp.sum(loss_B * weights),
      'correct_sum': jnp.sum(correct_B * weights),
      'count': jnp.sum(weights),
  }
  return sums, carry


def summarize_eval(sums: dict[str, Any], prefix: str) -> dict[str, Any]:
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
  if text_data:
    length = config.text.max_length
    if length != 'auto' and not (isinstance(length, int) and length > 0):
      raise errors.ConfigError(
          f"text.max_length={length!r}: give a positive number of words, or 'auto'.")


def make_feeder(config, mesh):
  """Texts become word-id rows; small image/signal sets live on the devices;
  the rest (ImageNet) is streamed."""
  spec = DATASETS[config.dataset.name]
  if spec.labelled_text:
    return textcls_feeding.TextClassificationFeeder(config, mesh)
  if spec.in_memory:
    return feeding.InMemoryFeeder(config, mesh, data=images.load(config))
  return streaming.StreamingFeeder(config, mesh)


def synthetic_feeder(config, mesh, shape: tuple[int, ...], num_classes: int):
  """Random data: an image shape (H, W, C), or (length, vocabulary size) for
  text classifiers."""
  if DATASETS[config.dataset.name].labelled_text:
    if len(shape) != 2:
      raise errors.ConfigError(
          f'--synthetic for text classification is LENGTH,VOCAB_SIZE; got {shape}.')
    return textcls_feeding.SyntheticTextFeeder(config, mesh, *shape, num_classes)
  if len(shape) != 3:
    raise errors.ConfigError(f'--synthetic for classification is H,W,C; got {shape}.')
  return feeding.InMemoryFeeder(config, mesh, data=images.synthetic(config, shape, num_classes))


def _word_vectors(feeder) -> np.ndarray | None:
  if isinstance(feeder, textcls_feeding.TextClassificationFeeder):
    return feeder.word_vectors
  return None


def init_variables(model, feeder) -> Callable:
  """rng -> (params, other collections such as batch_stats); a text model's
  'embed' table starts from the pre-trained word vectors where configured."""
  vectors = _word_vectors(feeder)
  input_shape = (1, *feeder.input_shape)

  def init(rng):
    variables = dict(model.init({'params': rng, 'dropout': rng}, jnp.zeros(input_shape),
                                train=False))
    params = variables.pop('params')
    if vectors is not None:
      if 'embed' not in params:
        raise errors.ConfigError('text.vectors_path is set, but the model has no `embed` table.')
      params = {**params, 'embed': {'embedding': vectors}}
    return params, variables

  return init


def sync_workdir(workdir: str, config, feeder, constants) -> None:
  """A text classifier's tokenizer and class names (read by launch.predict)."""
  del config, constants
  if isinstance(feeder, textcls_feeding.TextClassificationFeeder):
    textcls_feeding.save_tokenizer(workdir, feeder.tokenizer, feeder.class_names)


TASK = base.Task(
    name='classification',
    models=MODELS,
    make_feeder=make_feeder,
    init_variables=init_variables,
    loss=loss,
    eval_step=eval_step,
    summarize_eval=summarize_eval,
    check_config=check_config,
    data_model_fields=('num_classes', 'vocab_size'),
    best_during_training={'test_accuracy': max},
    rng_streams=('dropout', 'augment'),
    sync_workdir=sync_workdir,
    plot_run=pictures.plot_run,
    synthetic_feeder=synthetic_feeder,
)
