"""Feed-forward style transfer (Johnson, Alahi & Fei-Fei 2016, "Perceptual
Losses for Real-Time Style Transfer and Super-Resolution", ECCV).

A transformation network f_W (`research.models.style.TransformNet`) is trained
on photographs y_c to minimise, for one painting y_s, the perceptual loss of
Gatys et al. (research/tasks/neural_style.py) of its output y = f_W(y_c):
content loss against y_c's own features, style loss against the painting's
Grams, plus total variation (Johnson et al., section 3). After training, a
photo is stylised by one forward pass (`python -m launch.stylize`) instead of
hundreds of optimisation steps.

The same loss network, layers and weights as the config's Gatys run make the
two comparable: the evaluation reports the loss on held-out photos, beside
what Gatys' per-image optimisation reaches on the same photos.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from research import errors, fileio, parallel
from research.data import feeding, images
from research.data.registry import DATASETS
from research.models.style import TransformNet
from research.plots import style as pictures
from research.tasks import base, neural_style


class PhotoFeeder(feeding.InMemoryFeeder):
  """Photos as float RGB in [0, 1] (standardize off), resized to
  preprocess.image_size, held on every device; their label ('photo') is
  unused, and the data decides no model field.

  Besides the test split, each of `config.heldout_photos` is an eval split of
  its own, named by its file's stem: the whole photo (aspect kept, longer side
  preprocess.image_size, as configs/gatys_style.py reads its photo), so its
  loss is the one Gatys' per-image optimisation minimises on that photo."""

  def __init__(self, config, mesh, data, heldout: dict[str, np.ndarray]):
    super().__init__(config, mesh, data)
    self.heldout = heldout  # split name -> 1 x H x W x 3 in [0, 1]
    self.eval_splits = ('test', *heldout)

  @property
  def model_kwargs(self) -> dict[str, Any]:
    return {}

  def eval_args(self, split: str = 'test'):
    if split == 'test':
      yield from super().eval_args(split)
      return
    # One photo, in a batch padded to one row per device (masked out).
    idx, mask = next(feeding.eval_batches(1, self.mesh.size))
    yield ({'image': parallel.replicate(self.heldout[split], self.mesh)},
           parallel.global_batch(feeding.process_rows(idx), self.mesh),
           parallel.global_batch(feeding.process_rows(mask), self.mesh))


def heldout_split_name(path: str) -> str:
  return fileio.path(path).stem


def read_heldout(config) -> dict[str, np.ndarray]:
  photos = {}
  for path in config.heldout_photos:
    name = heldout_split_name(path)
    photos[name] = images.read_rgb(path, config.preprocess.image_size,
                                   what='held-out photo (heldout_photos)')[None] / 255.0
  return photos


def make_feeder(config, mesh) -> PhotoFeeder:
  return PhotoFeeder(config, mesh, images.load(config), read_heldout(config))


def load_constants(config, feeder, mesh) -> dict[str, Any]:
  """The loss network's weights and the painting's Grams (the content
  targets are each batch's photos' own features)."""
  del feeder
  style = images.read_rgb(config.style.image, config.style.image_size,
                                what='style image (style.image)')
  return jax.device_put(neural_style.network_and_style(config, style),
                        parallel.replicated(mesh))


def init_variables(model: TransformNet, feeder):
  shape = (1, *feeder.input_shape)

  def init(rng):
    return model.init(rng, jnp.zeros(shape, jnp.float32))['params'], {}

  return init


def _losses(params, batch, constants, *, model: TransformNet, config):
  photos_BxHxWx3 = batch['image'] * 255.0
  content_targets = jax.lax.stop_gradient(neural_style.features_of(
      config, constants['network'], photos_BxHxWx3))
  generated = model.apply({'params': params}, photos_BxHxWx3)
  return neural_style.perceptual_losses(generated, constants, config, content_targets)


def loss(params, model_state, batch, rngs, constants, step, *, model: TransformNet, config):
  del rngs, step
  losses = _losses(params, batch, constants, model=model, config=config)
  metrics = {k: jnp.mean(v) for k, v in losses.items() if k != 'loss'}
  return jnp.mean(losses['loss']), (model_state, metrics)


def eval_step(params, model_state, batch, carry, constants, *, model: TransformNet, config):
  del model_state
  losses = _losses(params, batch, constants, model=model, config=config)
  mask = batch['mask'].astype(jnp.float32)
  sums = {k: jnp.sum(v * mask) for k, v in losses.items()}
  sums['count'] = jnp.sum(mask)
  return sums, carry


def summarize_eval(sums: dict[str, Any], prefix: str) -> dict[str, Any]:
  results = {f'{prefix}_{k}': v / sums['count'] for k, v in sums.items() if k != 'count'}
  results[f'{prefix}_examples'] = sums['count']
  return results


def check_config(config) -> None:
  neural_style.check_loss_config(config)
  names = [heldout_split_name(p) for p in config.heldout_photos]
  if len(set(names)) != len(names) or 'test' in names or not all(
      n.isidentifier() for n in names):
    raise errors.ConfigError(
        f'heldout_photos {tuple(config.heldout_photos)} name the eval splits by their '
        f'file stems ({names}): they must be distinct identifiers other than "test".')
  if config.preprocess.standardize:
    raise errors.ConfigError('preprocess.standardize must be False: the network reads '
                             'photos as pixels (the loss network has its own means).')


def stylize(model: TransformNet, params, rgb_BxHxWx3, network: str) -> np.ndarray:
  """Photos (RGB in [0, 255]) -> their stylised versions, uint8 RGB."""
  from research import pretrained
  out = model.apply({'params': params}, jnp.asarray(rgb_BxHxWx3, jnp.float32))
  return np.asarray(pretrained.displayable(network, out))


def final_results(workdir, config, model, state, feeder) -> dict[str, Any]:
  """Seconds to stylise each held-out photo in one forward pass (best of 3,
  compilation excluded; what `launch.stylize` measures): `NAME_seconds`,
  beside the photo's loss."""
  from research import stylize
  del workdir
  stylizer = stylize.Stylizer(config, model, state.params, int(state.step))
  return {f'{name}_seconds': stylize.timed_forward(stylizer, photo * 255.0)[2]
          for name, photo in feeder.heldout.items()}


def plot_run(workdir, config, model, state, feeder) -> list[str]:
  """Held-out photos beside their stylised versions, and the loss curves."""
  photos = np.asarray(feeder.eval_inputs_host[:4]) * 255.0
  stylised = stylize(model, jax.device_get(state.params), photos, config.loss_network.name)
  return [pictures.plot_pairs(photos, stylised, fileio.join(workdir, 'stylized_test.png')),
          pictures.plot_losses(workdir)]


TASK = base.Task(
    name='fast_neural_style',
    models={'transform_net': TransformNet},
    datasets={'photo_folder': DATASETS['photo_folder']},
    make_feeder=make_feeder,
    init_variables=init_variables,
    loss=loss,
    eval_step=eval_step,
    summarize_eval=summarize_eval,
    check_config=check_config,
    load_constants=load_constants,
    plot_run=plot_run,
    final_results=final_results,
)
