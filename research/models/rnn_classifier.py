"""A recurrent classifier of 1-D signals (MNIST-1D's GRU baseline), built
from the cells of `research.models.rnn`."""

import functools

import flax.linen as nn
import jax.numpy as jnp

from research.models.common import layer_init
from research.models.rnn import CELLS, bidirectional_sequence


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
  # How the cells run their recurrence: None, the cell's default; else its
  # `impl` (GRU_IMPLS, LSTM_IMPLS). A speed knob: the same values to float rounding.
  cell_impl: str | None = None
  # Both directions in one loop over L (`bidirectional_sequence`; needs a cell
  # impl with a pure recurrence, 'xla'). A speed knob, off by default: slower
  # on the 2-core CPU (docs/speed.md).
  fuse_directions: bool = False

  @nn.compact
  def __call__(self, x_BxLxC, *, train: bool = False):
    del train
    if self.cell_impl is not None and self.cell not in ('gru', 'lstm'):
      raise ValueError(f"cell_impl applies to cell='gru' or 'lstm' (cell={self.cell!r}); "
                       'leave it None.')
    impl = {} if self.cell_impl is None else {'impl': self.cell_impl}
    cell_cls = functools.partial(CELLS[self.cell], hidden_size=self.hidden_size,
                                 dtype=self.dtype, param_init=self.param_init, **impl)
    batch = x_BxLxC.shape[0]
    forward = cell_cls(name='forward')
    if self.bidirectional:
      backward = cell_cls(name='backward')
      h_BxLxH, hb_BxLxH = bidirectional_sequence(forward, backward, x_BxLxC, x_BxLxC[:, ::-1],
                                                   fuse=self.fuse_directions)
      outputs = [h_BxLxH, hb_BxLxH[:, ::-1]]
    else:
      outputs = [forward.sequence(forward.initial_carry(batch), x_BxLxC)[1]]
    features = jnp.concatenate(outputs, axis=-1).reshape(batch, -1)
    return nn.Dense(self.num_classes, name='out',
                    **layer_init(self.param_init, features.shape[-1]))(features)
