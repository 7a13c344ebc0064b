"""Multi-layer perceptron: the two-layer network and its deeper relatives."""

from typing import Sequence

import flax.linen as nn

from research.models.common import ACTIVATIONS, Dropout, flatten, layer_init


class MLP(nn.Module):
  """Dense layers with a nonlinearity between them; `hidden_sizes=(h,)` is the
  classic two-layer network (one hidden layer), which can already carve
  nonlinear decision boundaries a single hyperplane cannot."""

  num_classes: int
  hidden_sizes: Sequence[int] = (256,)
  activation: str = 'relu'
  dropout_rate: float = 0.0
  # Hidden layers after the first add their input back, h + act(W h + b): the
  # MNIST-1D reference MLP (Greydanus 2020, 40-100-100-10).
  residual: bool = False
  param_init: str = 'flax'    # or 'torch': PyTorch's default init (common.INITS)

  @nn.compact
  def __call__(self, x, *, train: bool = False):
    act = ACTIVATIONS[self.activation]
    h = flatten(x)
    for i, width in enumerate(self.hidden_sizes):
      out = act(nn.Dense(width, name=f'hidden_{i}',
                         **layer_init(self.param_init, h.shape[-1]))(h))
      if self.residual and i > 0:
        if h.shape[-1] != width:
          raise ValueError(f'residual layers need equal widths; got {h.shape[-1]} -> {width}.')
        out = h + out
      h = Dropout(self.dropout_rate, deterministic=not train)(out)
    return nn.Dense(self.num_classes, name='out',
                    **layer_init(self.param_init, h.shape[-1]))(h)
