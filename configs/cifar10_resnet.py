r"""CIFAR-10 ResNets of He, Zhang, Ren & Sun 2016 (§4.2, Table 6).

Reproduce (needs the TFDS `cifar10` files: downloaded where a network exists;
164 epochs -- an accelerator is recommended):
  python -m launch.train --config=configs/cifar10_resnet.py:20 --workdir=runs/cifar10_resnet20
  python -m launch.reproduce cifar10_resnet --seeds=1

Paper (Table 6, test error %): ResNet-20 8.75, -32 7.51, -44 7.17, -56 6.97,
-110 6.43 (best of 5; mean 6.61 ± 0.16). Setup as in §4.2: 3x3 conv with 16
filters, three stages of n basic blocks (16/32/64 filters), option-A
shortcuts, global average pooling; SGD momentum 0.9, weight decay 1e-4, batch
128, lr 0.1 divided by 10 at 32k and 48k iterations, stop at 64k (here: at 50%
and 75% of 164 epochs of the 50k training images); 4-pixel padding + random
32x32 crops + horizontal flips. Departures: per-channel standardization instead
of per-pixel mean subtraction; for ResNet-110 a 400-step linear warm-up instead
of a constant 0.01 until training error < 80%. Ours: not run on the development
machine (no CIFAR-10 there; a ResNet-20 epoch takes ~2.5 minutes on its CPU).

Variants: `:20` (default), `:32`, `:44`, `:56`, `:110`; `:runlocal`.
"""

from ml_collections import config_dict

from research import config_lib


def get_config(arg=None):
  arg = config_lib.parse_arg(arg, positional='depth', depth=20, runlocal=False)
  c = config_dict.ConfigDict()
  c.task = 'classification'
  c.seed = 0

  c.dataset = config_lib.dataset('cifar10')
  c.preprocess = config_lib.preprocess()
  c.augment = config_lib.augment(crop_padding=4, flip=True)

  c.model = config_dict.ConfigDict()
  c.model.name = 'cifar_resnet'
  c.model.depth = arg.depth
  c.model.shortcut = 'A'
  c.model.zero_init_residual = False
  c.model.dtype = 'float32'

  c.loss = 'softmax_cross_entropy'
  c.optimizer = config_lib.optimizer('momentum', learning_rate=0.1, weight_decay=1e-4)
  c.schedule = config_lib.schedule(
      'step', boundaries=(0.5, 0.75), decay_factor=0.1,
      warmup_steps=400 if arg.depth >= 110 else 0)

  c.batch_size = 128
  c.eval_batch_size = 1000
  c.num_epochs = 164.0  # 64k iterations at 390 per epoch
  c.num_train_steps = config_dict.placeholder(int)  # overrides num_epochs when set

  c.log_every_steps = 100
  c.eval_every_steps = 3900   # every 10 epochs
  c.checkpoint_every_steps = 1950
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
