r"""ResNet-20 (He et al. 2016, CIFAR version) on Fashion-MNIST.

Reproduce (one core of a 2-core CPU: about 17 minutes, bfloat16 compute, oneDNN convolutions):
  python -m launch.train --config=configs/fashion_mnist_resnet.py --workdir=runs/fmnist_resnet20
  python -m launch.train --config=configs/fashion_mnist_resnet.py:depth=56 --workdir=runs/fmnist_resnet56

Paper: the Fashion-MNIST benchmark list has ResNet18 (with flips, translation,
rotation) at 94.9% and WRN-28-10 + random erasing at 96.3%. Here:
research/models/resnet.py CifarResNet (option-A shortcuts; 16/32/64 filters on
28x28 -> 14x14 -> 7x7), random 2-pixel-padded crops + horizontal flips, SGD
with Nesterov momentum 0.9, lr 0.1 with cosine decay, L2 5e-4, batch 128,
10 epochs, bfloat16 compute with float32 parameters.
Ours: README, "Results" (table `fashion_mnist`): 93.30 +- 0.12% over 3 seeds,
1,004 train seconds per run on one core.

Data: `:source=idx` (default) reads the IDX files of Debian's
`dataset-fashion-mnist` (/usr/share/datasets/fashion-mnist; override with
--config.dataset.manual_dir=DIR); `:source=tfds` uses TFDS's `fashion_mnist`.
Variants: `:runlocal` (20-step smoke run), `:source=idx|tfds`, `:depth=20|32|44|56|110`.
"""

from ml_collections import config_dict

from research import config_lib


def get_config(arg=None):
  arg = config_lib.parse_arg(arg, runlocal=False, source='idx', depth=20)
  c = config_dict.ConfigDict()
  c.task = 'classification'
  c.seed = 0

  c.dataset = config_lib.fashion_mnist(arg.source)
  c.preprocess = config_lib.preprocess()
  c.augment = config_lib.augment(crop_padding=2, flip=True)

  c.model = config_dict.ConfigDict()
  c.model.name = 'cifar_resnet'
  c.model.depth = arg.depth
  c.model.shortcut = 'A'         # identity + zero padding, the paper's CIFAR choice
  c.model.zero_init_residual = False
  c.model.dtype = 'bfloat16'     # compute; params and loss stay float32
  c.model.conv_impl = 'onednn'   # oneDNN on a CPU (research/kernels), XLA elsewhere

  c.loss = 'softmax_cross_entropy'
  c.optimizer = config_lib.optimizer('momentum', learning_rate=0.1, nesterov=True,
                                     weight_decay=5e-4)
  c.schedule = config_lib.schedule('cosine')

  c.batch_size = 128
  c.eval_batch_size = 1000
  c.num_epochs = 10.0
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
