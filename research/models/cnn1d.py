"""A 1-D convolutional network for signals (MNIST-1D's reference CNN)."""

from typing import Sequence

import flax.linen as nn

from research.models.common import ACTIVATIONS, flatten, layer_init


class CNN1D(nn.Module):
  """Strided 1-D convolutions, each followed by the nonlinearity, then one
  dense layer on the flattened feature maps. The defaults are the MNIST-1D
  reference ConvBase (Greydanus 2020): 25 channels, kernels 5, 3, 3, stride 2,
  padding 1 -> lengths 40 -> 19 -> 10 -> 5, 5,210 parameters. Weights are
  shared across positions, so a pattern is detected wherever it occurs."""

  num_classes: int
  channels: int = 25
  kernel_sizes: Sequence[int] = (5, 3, 3)
  strides: int = 2
  padding: int = 1
  activation: str = 'relu'
  param_init: str = 'flax'    # or 'torch': PyTorch's default init (common.INITS)

  @nn.compact
  def __call__(self, x_BxLxC, *, train: bool = False):
    del train
    act = ACTIVATIONS[self.activation]
    h = x_BxLxC
    for i, k in enumerate(self.kernel_sizes):
      h = act(nn.Conv(self.channels, (k,), strides=(self.strides,),
                      padding=[(self.padding, self.padding)], name=f'conv_{i}',
                      **layer_init(self.param_init, k * h.shape[-1]))(h))
    h = flatten(h)
    return nn.Dense(self.num_classes, name='out', **layer_init(self.param_init, h.shape[-1]))(h)
