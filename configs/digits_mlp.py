r"""A multi-layer perceptron on scikit-learn's 8x8 digits, trained by backprop.

Reproduce (2-core CPU, a few seconds of training):
  python -m launch.train --config=configs/digits_mlp.py --workdir=runs/digits_mlp
  python -m launch.train --config=configs/digits_mlp.py:depth=3,width=512 --workdir=runs/digits_mlp3

64 pixels -> `depth` hidden ReLU layers of `width` units -> 10 logits, softmax
cross-entropy. `depth=1` is the classic two-layer network. Paper context:
LeCun et al. 1998 report 4.7% MNIST test error for a 300-hidden-unit two-layer
network (LeCun's MNIST table). Ours on the digits split: README, "Results".

Variants: `:runlocal` (20-step smoke run), `depth=D`, `width=W`.
"""

from ml_collections import config_dict

from research import config_lib


def get_config(arg=None):
  arg = config_lib.parse_arg(arg, runlocal=False, depth=1, width=256)
  c = config_dict.ConfigDict()
  c.task = 'classification'
  c.seed = 0

  c.dataset = config_lib.dataset('sklearn_digits')
  c.preprocess = config_lib.preprocess()  # 8x8: 64 inputs
  c.augment = config_lib.augment()  # none

  c.model = config_dict.ConfigDict()
  c.model.name = 'mlp'
  c.model.hidden_sizes = (arg.width,) * arg.depth  # depth=1: the two-layer network
  c.model.activation = 'relu'
  c.model.dropout_rate = 0.0

  c.loss = 'softmax_cross_entropy'
  c.optimizer = config_lib.optimizer('adam', learning_rate=1e-3)
  c.schedule = config_lib.schedule('cosine')

  c.batch_size = 32
  c.eval_batch_size = 256
  c.num_epochs = 20.0
  c.num_train_steps = config_dict.placeholder(int)  # overrides num_epochs when set

  c.log_every_steps = 100
  c.eval_every_steps = 500
  c.checkpoint_every_steps = 500
  c.keep_checkpoints = 3
  c.tensorboard = True
  c.plot = True

  if arg.runlocal:
    c.num_train_steps = 20
    c.log_every_steps = 5
    c.eval_every_steps = 10
    c.checkpoint_every_steps = 10
  return c
