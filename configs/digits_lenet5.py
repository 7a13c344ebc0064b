r"""LeNet-5 on scikit-learn's 8x8 digits (upsampled to 32x32): the quickstart.

Reproduce (2-core CPU, about 20 s of training):
  python -m launch.train --config=configs/digits_lenet5.py --workdir=runs/digits_lenet5

Paper: LeCun et al. 1998 (Proc. IEEE, Fig. 2) define the network; on MNIST it
reaches 0.95% test error (LeCun's MNIST table, "LeNet-5, no distortions").
This dataset is smaller and coarser (1,437 train / 360 test 8x8 images from
UCI optdigits), so there is no paper figure for it; the goal is >= 97% test
accuracy on the fixed split (research/data/builders/sklearn_digits.py).
Ours: see README, "Results".

Variants: `:runlocal` is a 20-step smoke run for tests and first checks.

Sweep (`get_sweep`): 2 learning rates x 2 seeds, tabulated as mean ± std:
  python -m launch.sweep --config=configs/digits_lenet5.py --root=runs/sweeps
"""

from ml_collections import config_dict

from research import config_lib, sweep


def get_config(arg=None):
  arg = config_lib.parse_arg(arg, runlocal=False)
  c = config_dict.ConfigDict()
  c.task = 'classification'
  c.seed = 0

  c.dataset = config_lib.dataset('sklearn_digits')
  c.preprocess = config_lib.preprocess(image_size=32)  # bilinear 8x8 -> 32x32, LeNet-5's input
  c.augment = config_lib.augment()  # none

  c.model = config_dict.ConfigDict()
  c.model.name = 'lenet5'
  c.model.activation = 'tanh'
  c.model.pooling = 'avg'
  c.model.conv_impl = 'onednn'  # oneDNN on a CPU (research/kernels), XLA elsewhere
  c.model.dropout_rate = 0.0

  c.loss = 'softmax_cross_entropy'
  c.optimizer = config_lib.optimizer('adam', learning_rate=2e-3)
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


def get_sweep(arg=None):
  del arg  # The same sweep for every variant.
  return sweep.Sweep(
      points=sweep.product(sweep.axis('optimizer.learning_rate', [1e-3, 3e-3])), seeds=2)
