"""A recurrent classifier of 1-D signals (MNIST-1D's GRU baseline), built
from the cells of `research.models.rnn`."""

import functools

import flax.linen as nn
import jax.numpy as jnp

from research.models.common import layer_init
from research.models.rnn import CELLS


class RNNClassifier(nn.Module):
  """Reads an input BxLxC as a sequence of L steps and classifies it from
  every step's hidden state (flattened, then one dense layer): the MNIST-1D
  reference GRUBase (Greydanus 2020: bidirectional GRU, hidden size 6).

  Bidirectional: a second cell reads the sequence backwards and its outputs
  are re-reversed, so position t sees both [0, t] and [t, L). Our GRU has one
  hidden-side bias per direction (b_hn) where PyTorch's nn.GRU has three, so
  the reference's 5,134 parameters are 5,110 here.
  """

  num_classes: int
  hidden_size: int = 6
  cell: str = 'gru'
  bidirectional: bool = True
  dtype: str = 'float32'
  param_init: str = 'flax'    # or 'torch': PyTorch's default init (common.INITS)

  @nn.compact
  def __call__(self, x_BxLxC, *, train: bool = False):
    del train
    cell_cls = functools.partial(CELLS[self.cell], hidden_size=self.hidden_size,
                                 dtype=self.dtype, param_init=self.param_init)
    batch = x_BxLxC.shape[0]
    forward = cell_cls(name='forward')
    _, h_BxLxH = forward.sequence(forward.initial_carry(batch), x_BxLxC)
    outputs = [h_BxLxH]
    if self.bidirectional:
      backward = cell_cls(name='backward')
      _, hb_BxLxH = backward.sequence(backward.initial_carry(batch), x_BxLxC[:, ::-1])
      outputs.append(hb_BxLxH[:, ::-1])
    features = jnp.concatenate(outputs, axis=-1).reshape(batch, -1)
    return nn.Dense(self.num_classes, name='out',
                    **layer_init(self.param_init, features.shape[-1]))(features)
