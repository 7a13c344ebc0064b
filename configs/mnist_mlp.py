r"""Fully connected networks on MNIST: the baselines of LeCun et al. 1998.

Reproduce (LeCun's IDX files in data/mnist: `python -m launch.get_data mnist`;
`:source=tfds` reads TFDS's `mnist`, downloaded where a network exists):
  python -m launch.train --config=configs/mnist_mlp.py:hidden=300 --workdir=runs/mnist_mlp300
  python -m launch.train --config=configs/mnist_mlp.py:hidden=500-150 --workdir=runs/mnist_mlp500_150
  python -m launch.train --config=configs/mnist_mlp.py:hidden=0 --workdir=runs/mnist_linear

`hidden` lists the hidden widths ('0' = none: a linear classifier). Paper
(LeCun's MNIST table, from LeCun et al. 1998): linear classifier 12.0% test
error, 2-layer NN with 300 hidden units 4.7%, 3-layer NN 500+150 2.95% -- with
mean-squared-error training of 1998; here softmax cross-entropy, Adam, ReLU.
Ours (3 seeds as one program, 2-core CPU): linear 7.34%, 300 1.64%, 500-150
1.44% mean test error (README, table `mnist_lecun98`:
python -m launch.reproduce mnist_lecun98 --seeds=3 --publish).

Variants: `:runlocal` (20-step smoke run), `:hidden=W1-W2-...`, `:source=idx|tfds`.
"""

from ml_collections import config_dict

from research import config_lib, errors


def get_config(arg=None):
  arg = config_lib.parse_arg(arg, runlocal=False, hidden='300', source='idx')
  try:
    hidden = tuple(int(w) for w in arg.hidden.split('-') if int(w) > 0)
  except ValueError as e:
    raise errors.ConfigError(f'hidden={arg.hidden!r}: use widths like 300 or 500-150.') from e
  c = config_dict.ConfigDict()
  c.task = 'classification'
  c.seed = 0

  c.dataset = config_lib.mnist(arg.source)
  c.preprocess = config_lib.preprocess()
  c.augment = config_lib.augment()  # none: the paper's undistorted rows

  c.model = config_dict.ConfigDict()
  c.model.name = 'mlp'
  c.model.hidden_sizes = hidden
  c.model.activation = 'relu'
  c.model.dropout_rate = 0.0

  c.loss = 'softmax_cross_entropy'
  c.optimizer = config_lib.optimizer('adam', learning_rate=1e-3)
  c.schedule = config_lib.schedule('cosine')

  c.batch_size = 128
  c.eval_batch_size = 1000
  c.num_epochs = 20.0
  c.num_train_steps = config_dict.placeholder(int)  # overrides num_epochs when set

  c.log_every_steps = 200
  c.eval_every_steps = 1875
  c.checkpoint_every_steps = 1875
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
