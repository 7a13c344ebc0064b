r"""A multi-layer perceptron on Fashion-MNIST.

Reproduce (2-core CPU, about 1 minute):
  python -m launch.train --config=configs/fashion_mnist_mlp.py --workdir=runs/fmnist_mlp

Paper: Xiao et al. 2017, Table 3: MLPClassifier (scikit-learn, ReLU, one hidden
layer of 100) 87.1%; the Fashion-MNIST benchmark list has an MLP 256-128-64 at
90.0%. Here: 784-256-256-10 ReLU with dropout 0.2, Adam, 30 epochs.
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
  c.augment = config_lib.augment()  # none

  c.model = config_dict.ConfigDict()
  c.model.name = 'mlp'
  c.model.hidden_sizes = (256, 256)
  c.model.activation = 'relu'
  c.model.dropout_rate = 0.2

  c.loss = 'softmax_cross_entropy'
  c.optimizer = config_lib.optimizer('adam', learning_rate=1e-3)
  c.schedule = config_lib.schedule('cosine')

  c.batch_size = 128
  c.eval_batch_size = 1000
  c.num_epochs = 30.0
  c.num_train_steps = config_dict.placeholder(int)  # overrides num_epochs when set

  c.log_every_steps = 200
  c.eval_every_steps = 2814
  c.checkpoint_every_steps = 2814
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
