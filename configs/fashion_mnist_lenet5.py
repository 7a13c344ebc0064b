r"""LeNet-5 on Fashion-MNIST.

Reproduce (2-core CPU, about 2 minutes):
  python -m launch.train --config=configs/fashion_mnist_lenet5.py --workdir=runs/fmnist_lenet5

Paper: no LeNet-5 row in Xiao et al. 2017; the Fashion-MNIST benchmark list's
small convnets score 87.6-91.6% (2 Conv + pooling). The layout is LeCun et
al. 1998's (research/models/lenet.py) on the 28x28 images padded to 32x32,
with ReLU and max pooling in place of the paper's scaled tanh and trainable
average subsampling (with those, one seed reached 90.1% without and 89.5% with
2-pixel random shifts: the smaller network underfits); Adam, 20 epochs.
Ours: README, "Results" (table `fashion_mnist`).

Data: `:source=idx` (default) reads the IDX files of Debian's
`dataset-fashion-mnist` (/usr/share/datasets/fashion-mnist; override with
--config.dataset.manual_dir=DIR); `:source=tfds` uses TFDS's `fashion_mnist`.
Variants: `:runlocal` (20-step smoke run), `:source=idx|tfds`.
"""

from ml_collections import config_dict

from research import config_lib


def get_config(arg=None):
  arg = config_lib.parse_arg(arg, runlocal=False, source='idx')
  c = config_dict.ConfigDict()
  c.task = 'classification'
  c.seed = 0

  c.dataset = config_lib.fashion_mnist(arg.source)
  c.preprocess = config_lib.preprocess(pad=2)  # 28x28 -> 32x32, as for MNIST in the paper
  c.augment = config_lib.augment()  # none

  c.model = config_dict.ConfigDict()
  c.model.name = 'lenet5'
  c.model.activation = 'relu'  # tanh/avg (the paper's) underfits here: 89.5-90.1%
  c.model.pooling = 'max'
  # oneDNN on a CPU (research/kernels), XLA elsewhere: on one core 17.7k examples/s
  # against XLA's 6.8k and im2col's ('patches') 7.9k (launch.benchmark
  # --synthetic=32,32,1). Same math, float-rounding differences.
  c.model.conv_impl = 'onednn'
  c.model.dropout_rate = 0.0

  c.loss = 'softmax_cross_entropy'
  c.optimizer = config_lib.optimizer('adam', learning_rate=1e-3)
  c.schedule = config_lib.schedule('cosine')

  c.batch_size = 128
  c.eval_batch_size = 1000
  c.num_epochs = 20.0
  c.num_train_steps = config_dict.placeholder(int)  # overrides num_epochs when set

  c.log_every_steps = 200
  c.eval_every_steps = 1876
  c.checkpoint_every_steps = 938
  c.keep_checkpoints = 2
  c.tensorboard = True
  c.plot = True

  if arg.runlocal:
    c.num_train_steps = 20
    c.batch_size = 16
    c.eval_batch_size = 64
    c.log_every_steps = 5
    c.eval_every_steps = 10
    c.checkpoint_every_steps = 10
  return c
