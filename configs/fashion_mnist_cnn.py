r"""A modern small CNN (conv-BN-ReLU blocks, max pooling, dropout) on Fashion-MNIST.

Reproduce (2-core CPU, about 8 minutes per seed):
  python -m launch.train --config=configs/fashion_mnist_cnn.py --workdir=runs/fmnist_cnn

Paper: the Fashion-MNIST benchmark list (zalandoresearch/fashion-mnist README)
has "3 Conv + pooling + 2 FC + dropout" at 92.6% and "2 Conv <100K params" at
92.5%. Here: research/models/cnn.py with two blocks of one 3x3 conv each
(32, 64 channels), BatchNorm, ReLU, 2x2 max pooling, dropout 0.25, a 256-unit
dense layer with dropout 0.5; random crops (2-pixel padding) and horizontal
flips; Adam with cosine decay, 12 epochs, batch 128.
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
  c.preprocess = config_lib.preprocess()
  c.augment = config_lib.augment(crop_padding=2, flip=True)

  c.model = config_dict.ConfigDict()
  c.model.name = 'small_cnn'
  c.model.block_channels = (32, 64)
  c.model.convs_per_block = 1
  c.model.conv_dropout_rate = 0.25
  c.model.dense_sizes = (256,)
  c.model.dense_dropout_rate = 0.5
  c.model.dtype = 'float32'
  c.model.conv_impl = 'patches'  # im2col + matmul: same math as 'xla', faster on CPU

  c.loss = 'softmax_cross_entropy'
  c.optimizer = config_lib.optimizer('adam', learning_rate=1e-3)
  c.schedule = config_lib.schedule('cosine')

  c.batch_size = 128
  c.eval_batch_size = 1000
  c.num_epochs = 12.0
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
