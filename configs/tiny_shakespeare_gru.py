r"""Character-level GRU language model on Tiny Shakespeare: the LSTM config
(configs/tiny_shakespeare_lstm.py, whose docstring has data, training and
recipe) with `model.cell = 'gru'` and no forget-gate bias.

Reproduce (one GPU, a few minutes):
  python -m launch.train --config=configs/tiny_shakespeare_gru.py --workdir=runs/ts_gru

Variants: `:runlocal` (a few steps, tiny shapes).
"""

import os

from research import config_lib

_LSTM_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'tiny_shakespeare_lstm.py')


def get_config(arg=None):
  c = config_lib.load(_LSTM_CONFIG, arg)
  c.model.cell = 'gru'
  c.model.forget_bias = 0.0  # an LSTM-only option
  return c
