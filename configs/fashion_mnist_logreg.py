r"""Logistic (softmax) regression on Fashion-MNIST.

Reproduce (2-core CPU, about 1 minute):
  python -m launch.train --config=configs/fashion_mnist_logreg.py --workdir=runs/fmnist_logreg

Paper: Xiao, Rasul & Vollgraf 2017 (arXiv 1708.07747), Table 3:
LogisticRegression (scikit-learn, C=1, l1, one-vs-rest) 84.2% test accuracy.
Here: one dense layer on the 784 standardized pixels, softmax cross-entropy,
Adam, 20 epochs. Ours: README, "Results" (table `fashion_mnist`).

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
  c.model.name = 'linear'

  c.loss = 'softmax_cross_entropy'
  c.optimizer = config_lib.optimizer('adam', learning_rate=1e-3)
  c.schedule = config_lib.schedule('cosine')

  c.batch_size = 128
  c.eval_batch_size = 1000
  c.num_epochs = 20.0
  c.num_train_steps = config_dict.placeholder(int)  # overrides num_epochs when set

  c.log_every_steps = 200
  c.eval_every_steps = 1876
  c.checkpoint_every_steps = 1876
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
