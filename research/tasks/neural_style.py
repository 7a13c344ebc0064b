"""Neural style transfer by optimising the image (Gatys, Ecker & Bethge 2016,
"Image Style Transfer Using Convolutional Neural Networks", CVPR).

The image x is the model's only parameter (`research.models.style.Pixels`).
A pretrained VGG-19 (`loss_network`, frozen, passed to the step as a
constant) turns images into feature maps F^l (N_l channels x M_l positions):

  content loss (eq. 1):  L_content = 1/2 sum_ij (F^l_ij - P^l_ij)^2 at the
                         content layers (the paper: conv4_2), P^l of the photo
  Gram matrices (eq. 3): G^l = F^l F^l^T / M_l (divided by M_l here, so a
                         style image of another size gives comparable targets)
  style loss (eq. 4-5):  E_l = 1/(4 N_l^2) sum_ij (G^l_ij - A^l_ij)^2, A^l of
                         the painting; L_style = sum_l w_l E_l, w_l = 1/|layers|
                         (conv1_1 ... conv5_1)
  total (eq. 7):         alpha L_content + beta L_style + tv_weight TV(x)

TV(x) is the total variation sum of squared neighbour differences
(Mahendran & Vedaldi 2015; Johnson et al. 2016 use it), 0 by default as in
Gatys. The targets P^l and A^l are computed once (`load_constants`), and the
trainer's generic step optimises x with the configured optimizer: L-BFGS as
the paper (one L-BFGS iteration with its line search per step) or Adam. The
image is checkpointed and resumed like any network's weights; evaluations
write the image so far under WORKDIR/progress/.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterator

import jax
import jax.numpy as jnp
import numpy as np

from research import config_lib, errors, fileio, parallel, pretrained
from research.data import images
from research.models import imagenet
from research.models.style import Pixels, pixels_params
from research.plots import style as pictures
from research.tasks import base

INITS = ('content', 'noise')


# --- the losses (pure; tested against hand-computed values) -----------------------

def gram_matrix(features_BxHxWxN: jax.Array) -> jax.Array:
  """G = F F^T / M (eq. 3, over the M = H W positions): B x N x N."""
  b, h, w, n = features_BxHxWxN.shape
  f_BxMxN = features_BxHxWxN.reshape(b, h * w, n)
  return jnp.einsum('bmi,bmj->bij', f_BxMxN, f_BxMxN) / (h * w)


def content_loss(features_BxHxWxN: jax.Array, target_BxHxWxN: jax.Array) -> jax.Array:
  """Eq. 1: 1/2 sum of squared differences, per image: B."""
  return 0.5 * jnp.sum((features_BxHxWxN - target_BxHxWxN) ** 2, axis=(1, 2, 3))


def style_layer_loss(gram_BxNxN: jax.Array, target_gram_NxN: jax.Array) -> jax.Array:
  """Eq. 4 with both Grams already divided by M: sum (G - A)^2 / (4 N^2): B."""
  n = gram_BxNxN.shape[-1]
  return jnp.sum((gram_BxNxN - target_gram_NxN) ** 2, axis=(1, 2)) / (4.0 * n * n)


def total_variation(image_BxHxWx3: jax.Array) -> jax.Array:
  """Sum of squared differences between vertical and horizontal neighbours: B."""
  dy = image_BxHxWx3[:, 1:] - image_BxHxWx3[:, :-1]
  dx = image_BxHxWx3[:, :, 1:] - image_BxHxWx3[:, :, :-1]
  return jnp.sum(dy ** 2, axis=(1, 2, 3)) + jnp.sum(dx ** 2, axis=(1, 2, 3))


def loss_networks() -> dict[str, Any]:
  """The registered pretrained weights a perceptual loss can use: VGG-19's."""
  return {name: w for name, w in pretrained.WEIGHTS.items()
          if isinstance(w.module, imagenet.VGG19Features)}


def loss_network(config) -> imagenet.VGG19Features:
  """The frozen feature network of the configured weights, computing up to
  the deepest layer the losses use."""
  layers = tuple(config.style.content_layers) + tuple(config.style.style_layers)
  deepest = max(layers, key=imagenet.VGG19_LAYERS.index)
  module = pretrained.entry(config.loss_network.name).module
  return module.clone(pooling=config.loss_network.pooling, last_layer=deepest,
                      conv_algorithm=config.loss_network.conv_algorithm)


def perceptual_losses(image_BxHxWx3, constants, config,
                      content_targets=None) -> dict[str, jax.Array]:
  """Per-image content, style and TV losses of images in the loss network's
  input space, and their weighted total (eq. 7): each B. The content targets
  are the constants' (one photo) unless given (a batch of photos' features)."""
  style = config.style
  features = loss_network(config).apply(network_variables(constants), image_BxHxWx3)
  targets = constants['content'] if content_targets is None else content_targets
  content = sum(content_loss(features[l], targets[l]) for l in style.content_layers)
  style_loss = sum(style_layer_loss(gram_matrix(features[l]), constants['style'][l])
                   for l in style.style_layers) / len(style.style_layers)
  tv = total_variation(image_BxHxWx3)
  total = (style.content_weight * content + style.style_weight * style_loss
           + style.tv_weight * tv)
  return {'content_loss': content, 'style_loss': style_loss, 'tv_loss': tv, 'loss': total}


# --- data: one photo and one painting ---------------------------------------------

@dataclasses.dataclass
class ImagePairFeeder:
  """A photo (content) and a painting (style). Steps take no batch: the image
  being optimised is the state; evaluation scores it once ('image_*')."""
  content_HxWx3: np.ndarray  # RGB in [0, 255]
  style_HxWx3: np.ndarray
  init: str       # config.style.init: where the optimised image starts
  network: str    # config.loss_network.name: whose input space it lives in
  steps_per_epoch: int = 1
  eval_splits: tuple[str, ...] = ('image',)
  train_arg_shardings: tuple = ()
  eval_arg_shardings: tuple = ()

  @property
  def model_kwargs(self) -> dict[str, Any]:
    height, width, _ = self.content_HxWx3.shape
    return {'height': height, 'width': width}

  def train_args(self, step: int) -> tuple:
    del step
    return ()

  def train_batch(self) -> dict[str, jax.Array]:
    return {}

  def eval_args(self, split: str) -> Iterator[tuple]:
    del split
    yield ()

  def eval_batch(self) -> dict[str, jax.Array]:
    return {'mask': jnp.ones((1,), jnp.float32)}

  def initial_eval_carry(self, state, split: str) -> None:
    del state, split
    return None


def make_feeder(config, mesh) -> ImagePairFeeder:
  del mesh
  ds = config.dataset
  content = images.read_rgb(ds.content, ds.image_size, what='content image (dataset.content)')
  style = images.read_rgb(ds.style, ds.style_image_size or ds.image_size,
                   what='style image (dataset.style)')
  return ImagePairFeeder(content_HxWx3=content, style_HxWx3=style, init=config.style.init,
                        network=config.loss_network.name)


def features_of(config, network_params, rgb_BxHxWx3) -> dict[str, jax.Array]:
  """The loss network's features of RGB images in [0, 255]."""
  x = pretrained.preprocess(config.loss_network.name, rgb_BxHxWx3)
  return loss_network(config).apply({'params': network_params}, x)


def network_variables(constants) -> dict[str, Any]:
  """What the loss network is applied with: its weights, and their Winograd
  transforms computed once (`network_and_style`)."""
  return {'params': constants['network'],
          imagenet.WINOGRAD_COLLECTION: constants['network_winograd']}


def network_and_style(config, style_HxWx3: np.ndarray) -> dict[str, Any]:
  """The loss network's weights (and their Winograd transforms, so the steps
  do not recompute them) and the painting's Grams at the style layers (A^l);
  computed once, eagerly (one forward pass: not worth a compilation)."""
  network_params = pretrained.load(config.loss_network.name, config.loss_network.weights_dir)
  features = features_of(config, network_params, jnp.asarray(style_HxWx3)[None])
  return {'network': network_params,
          'network_winograd': imagenet.winograd_kernels(loss_network(config), network_params),
          'style': {l: gram_matrix(features[l])[0] for l in config.style.style_layers}}


def load_constants(config, feeder: ImagePairFeeder, mesh) -> dict[str, Any]:
  """The loss network's weights and the targets: the painting's Grams and
  the photo's features at the content layers (P^l)."""
  constants = network_and_style(config, feeder.style_HxWx3)
  features = features_of(config, constants['network'], jnp.asarray(feeder.content_HxWx3)[None])
  constants['content'] = {l: features[l] for l in config.style.content_layers}
  return jax.device_put(constants, parallel.replicated(mesh))


def init_variables(model: Pixels, feeder: ImagePairFeeder):
  """The starting image: the photo itself, or white noise (uniform pixels,
  the paper's Fig. 2-3 start), in the loss network's input space."""
  del model
  content = jnp.asarray(feeder.content_HxWx3)[None]

  def init(rng):
    if feeder.init == 'content':
      rgb = content
    else:
      rgb = jax.random.uniform(rng, content.shape, jnp.float32, 0.0, 255.0)
    return pixels_params(pretrained.preprocess(feeder.network, rgb)), {}

  return init


def loss(params, model_state, batch, rngs, constants, step, *, model: Pixels, config):
  del batch, rngs, step
  losses = perceptual_losses(model.apply({'params': params}), constants, config)
  metrics = {k: v[0] for k, v in losses.items() if k != 'loss'}
  return losses['loss'][0], (model_state, metrics)


def eval_step(params, model_state, batch, carry, constants, *, model: Pixels, config):
  del model_state
  losses = perceptual_losses(model.apply({'params': params}), constants, config)
  sums = {k: jnp.sum(v * batch['mask']) for k, v in losses.items()}
  sums['count'] = jnp.sum(batch['mask'])
  return sums, carry


def summarize_eval(sums: dict[str, Any], prefix: str) -> dict[str, Any]:
  return {f'{prefix}_{k}': v / sums['count'] for k, v in sums.items() if k != 'count'}


def check_config(config) -> None:
  config_lib.check_choice('style.init', config.style.init, dict.fromkeys(INITS))
  check_loss_config(config)
  if config.batch_size != 1:
    raise errors.ConfigError(
        f'batch_size={config.batch_size}: Gatys-style transfer optimises one image; set '
        'batch_size=1.')


def check_loss_config(config) -> None:
  """The perceptual loss's names: its weights and layers."""
  style = config.style
  config_lib.check_choice('loss_network', config.loss_network.name, loss_networks())
  config_lib.check_choice('loss_network.pooling', config.loss_network.pooling,
                          dict.fromkeys(imagenet.POOLINGS))
  config_lib.check_choice('loss_network.conv_algorithm', config.loss_network.conv_algorithm,
                          dict.fromkeys(imagenet.CONV_ALGORITHMS))
  for kind in ('content_layers', 'style_layers'):
    layers = tuple(style[kind])
    if not layers:
      raise errors.ConfigError(f'style.{kind} is empty.')
    for layer in layers:
      config_lib.check_choice(f'style.{kind}', layer, dict.fromkeys(imagenet.VGG19_LAYERS))


def image_rgb(model: Pixels, params, config) -> np.ndarray:
  """The current image as uint8 RGB (clipped to the displayable range)."""
  x = model.apply({'params': params})
  return np.asarray(pretrained.displayable(config.loss_network.name, x)[0])


def plot_run(workdir, config, model, state, feeder) -> list[str]:
  result = image_rgb(model, jax.device_get(state.params), config)
  return [pictures.save_rgb(result, fileio.join(workdir, 'stylized.png')),
          pictures.plot_panel(feeder.content_HxWx3, feeder.style_HxWx3, result,
                              fileio.join(workdir, 'panel.png')),
          pictures.plot_losses(workdir)]


def plot_eval(workdir, config, model, state, feeder, step: int) -> list[str]:
  """The image so far, WORKDIR/progress/step_NNNNNN.png, at each evaluation."""
  del feeder
  result = image_rgb(model, jax.device_get(state.params), config)
  return [pictures.save_rgb(result, fileio.join(workdir, 'progress', f'step_{step:06d}.png'))]


TASK = base.Task(
    name='neural_style',
    models={'pixels': Pixels},
    datasets={'image_pair': 'a photo (dataset.content) and a painting (dataset.style)'},
    make_feeder=make_feeder,
    init_variables=init_variables,
    loss=loss,
    eval_step=eval_step,
    summarize_eval=summarize_eval,
    check_config=check_config,
    data_model_fields=('height', 'width'),
    load_constants=load_constants,
    plot_run=plot_run,
    plot_eval=plot_eval,
)
