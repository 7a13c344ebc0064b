"""What neural style transfer optimises.

`Pixels`: Gatys et al. (2016) optimise the image itself. The image is the
module's one parameter (in the loss network's input space: BGR minus the
ImageNet means), so the trainer's state, optimizer, checkpoints and resume
treat it like any other network's weights.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


class Pixels(nn.Module):
  height: int
  width: int

  @nn.compact
  def __call__(self) -> jnp.ndarray:
    image_1xHxWx3 = self.param(
        'image', nn.initializers.normal(1.0), (1, self.height, self.width, 3), jnp.float32)
    return image_1xHxWx3


def pixels_params(image_1xHxWx3: jax.Array) -> dict:
  """Pixels' parameter tree holding a given image."""
  return {'image': image_1xHxWx3.astype(jnp.float32)}


class _InstanceNorm(nn.Module):
  """Per-image, per-channel normalisation (Ulyanov et al. 2016, "Instance
  Normalization"): Johnson et al.'s network with it in place of batch norm
  stylises better and behaves the same at batch 1 and at training batches."""

  @nn.compact
  def __call__(self, x_BxHxWxC):
    return nn.GroupNorm(num_groups=None, group_size=1, epsilon=1e-5)(x_BxHxWxC)


class TransformNet(nn.Module):
  """Johnson, Alahi & Fei-Fei 2016 ("Perceptual Losses for Real-Time Style
  Transfer and Super-Resolution", supplementary Table 1): a 9x9 conv, two
  stride-2 3x3 convs down, five residual blocks, two x2 upsamplings back, a 9x9
  conv to RGB. Input RGB in [0, 255]; output in the loss network's input range
  through a scaled tanh. Upsampling is nearest-neighbour resize + conv (Odena
  et al. 2016) rather than strided transposed convs, which leave checkerboard
  artefacts; `width` scales every layer (32 in the paper)."""
  width: int = 32
  num_residual: int = 5

  @nn.compact
  def __call__(self, rgb_BxHxWx3) -> jnp.ndarray:
    w = self.width

    def conv(x, features, kernel, stride=1, relu=True):
      pad = kernel // 2
      x = jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode='reflect')
      x = nn.Conv(features, (kernel, kernel), strides=(stride, stride), padding='VALID')(x)
      x = _InstanceNorm()(x)
      return nn.relu(x) if relu else x

    _, height, width, _ = rgb_BxHxWx3.shape
    # Two stride-2 convs and two x2 upsamplings: a photo of any size is
    # padded to a multiple of 4 and the result cropped back to it.
    pad_h, pad_w = -height % 4, -width % 4
    x = jnp.pad(rgb_BxHxWx3.astype(jnp.float32) / 255.0,
                ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode='reflect')
    x = conv(x, w, 9)
    x = conv(x, 2 * w, 3, stride=2)
    x = conv(x, 4 * w, 3, stride=2)
    for _ in range(self.num_residual):
      x = x + conv(conv(x, 4 * w, 3), 4 * w, 3, relu=False)
    for features in (2 * w, w):
      b, h, wd, c = x.shape
      x = jax.image.resize(x, (b, 2 * h, 2 * wd, c), 'nearest')
      x = conv(x, features, 3)
    x = jnp.pad(x, ((0, 0), (4, 4), (4, 4), (0, 0)), mode='reflect')
    x = nn.Conv(3, (9, 9), padding='VALID')(x)
    # 150 tanh: the output spans about +-150 around the ImageNet means, the
    # range of BGR-minus-mean pixels.
    return 150.0 * jnp.tanh(x[:, :height, :width])
