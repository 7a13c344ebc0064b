r"""The perceptron (a linear classifier) on scikit-learn's 8x8 digits.

Reproduce (2-core CPU, a few seconds of training):
  python -m launch.train --config=configs/digits_perceptron.py --workdir=runs/digits_perceptron
  python -m launch.train --config=configs/digits_perceptron.py:softmax --workdir=runs/digits_softmax

One affine map from the 64 pixels to 10 class scores. Default loss: the
multiclass perceptron criterion (Rosenblatt 1958; zero once the true class
scores highest) trained by SGD; `:softmax` trains the same model as softmax
(multinomial logistic) regression. Paper context: LeCun et al. 1998's linear
classifier has 12.0% test error on MNIST (LeCun's MNIST table). Ours on the
digits split: README, "Results" -- clearly below LeNet-5 (configs/digits_lenet5.py).

Variants: `:runlocal` (20-step smoke run), `:softmax`.
"""

from ml_collections import config_dict

from research import config_lib


def get_config(arg=None):
  arg = config_lib.parse_arg(arg, runlocal=False, softmax=False)
  c = config_dict.ConfigDict()
  c.task = 'classification'
  c.seed = 0

  c.dataset = config_lib.dataset('sklearn_digits')
  c.preprocess = config_lib.preprocess()  # 8x8: 64 inputs
  c.augment = config_lib.augment()  # none

  c.model = config_dict.ConfigDict()
  c.model.name = 'linear'

  # Rosenblatt's perceptron criterion (multiclass), or softmax regression.
  c.loss = 'softmax_cross_entropy' if arg.softmax else 'perceptron'
  c.optimizer = config_lib.optimizer('sgd', learning_rate=0.1)
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
