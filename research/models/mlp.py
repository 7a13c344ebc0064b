"""Multi-layer perceptron: the two-layer network and its deeper relatives."""

from typing import Sequence

import flax.linen as nn

from research.models.common import ACTIVATIONS, flatten


class MLP(nn.Module):
  """Dense layers with a nonlinearity between them; `hidden_sizes=(h,)` is the
  classic two-layer network (one hidden layer), which can already carve
  nonlinear decision boundaries a single hyperplane cannot."""

  num_classes: int
  hidden_sizes: Sequence[int] = (256,)
  activation: str = 'relu'
  dropout_rate: float = 0.0

  @nn.compact
  def __call__(self, x, *, train: bool = False):
    act = ACTIVATIONS[self.activation]
    h = flatten(x)
    for i, width in enumerate(self.hidden_sizes):
      h = act(nn.Dense(width, name=f'hidden_{i}')(h))
      h = nn.Dropout(self.dropout_rate, deterministic=not train)(h)
    return nn.Dense(self.num_classes, name='out')(h)
