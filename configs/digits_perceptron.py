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

  c.dataset = config_dict.ConfigDict()
  c.dataset.name = 'sklearn_digits'
  c.dataset.data_dir = config_dict.placeholder(str)  # None: $TFDS_DATA_DIR or ~/tensorflow_datasets
  c.dataset.download = True      # project builder: built offline from scikit-learn
  c.dataset.train_split = 'train'
  c.dataset.eval_split = 'test'

  c.preprocess = config_dict.ConfigDict()
  c.preprocess.image_size = config_dict.placeholder(int)  # keep 8x8: 64 inputs
  c.preprocess.pad = 0
  c.preprocess.standardize = True  # per-channel mean/std of the train split

  c.model = config_dict.ConfigDict()
  c.model.name = 'linear'

  # Rosenblatt's perceptron criterion (multiclass), or softmax regression.
  c.loss = 'softmax_cross_entropy' if arg.softmax else 'perceptron'
  c.optimizer = config_dict.ConfigDict()
  c.optimizer.name = 'sgd'
  c.optimizer.learning_rate = 0.1
  c.optimizer.momentum = 0.9     # used by 'momentum'
  c.optimizer.nesterov = False   # used by 'momentum'
  c.optimizer.b1 = 0.9           # used by 'adam', 'adamw'
  c.optimizer.b2 = 0.999
  c.optimizer.weight_decay = 0.0
  c.optimizer.grad_clip_norm = config_dict.placeholder(float)
  c.schedule = config_dict.ConfigDict()
  c.schedule.name = 'cosine'
  c.schedule.warmup_steps = 0
  c.schedule.end_factor = 0.0    # final lr = end_factor * learning_rate

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
