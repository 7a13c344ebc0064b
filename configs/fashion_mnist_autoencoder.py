r"""Hinton & Salakhutdinov (2006), "Reducing the dimensionality of data with
neural networks": a 784-1000-500-250-30 deep autoencoder against PCA with 30
components, on Fashion-MNIST (table `hinton2006`).

Variants (`--config=configs/fashion_mnist_autoencoder.py:VARIANT`):
  :layerwise (default)  greedy layer-wise pre-training (each layer an
                        autoencoder of the previous layer's code; the paper uses
                        RBMs and contrastive divergence), then end-to-end
                        fine-tuning of the unrolled network
  :e2e                  the same network trained end to end from random init
  :pca                  PCA with as many components as the code has units
  :classify,init=pretrained|random
                        the encoder + a softmax layer, trained as a classifier
                        from the autoencoder's encoder (a finished run in
                        runs/fmnist_ae, or --config.init_from.workdir=DIR) or
                        from random init
  code=N                the code size (30; code=2 for the paper's Fig. 3 picture)
  source=idx|tfds       Debian's IDX files (default) or TFDS's fashion_mnist
  :runlocal             a smoke run (a few steps)

Network (paper, Fig. 1 / sec. "MNIST"): logistic hidden units, a linear code
layer, logistic output units; loss = cross-entropy between the output and the
pixels in [0, 1]; metric = the paper's squared reconstruction error per image
(sum over the 784 pixels, mean over the test images). Training here: Adam
1e-3, batch 100, 10 epochs in all (layer-wise: 1 epoch per layer, then 6 of
fine-tuning), where the paper fine-tunes for 200 epochs with conjugate
gradients after RBM pre-training.

Reproduce (2-core CPU; README, "Results"):
  python -m launch.reproduce hinton2006 --seeds=3 --workers=2 --root=runs/tables
  python -m launch.train --config=configs/fashion_mnist_autoencoder.py:layerwise --workdir=runs/fmnist_ae
Paper (MNIST, Hinton & Salakhutdinov 2006, text of sec. "MNIST" / Fig. 2): the
30-d autoencoder's average squared error per test image 3.00, PCA's 13.87.
Ours, Fashion-MNIST: README, "Results".
"""

from ml_collections import config_dict

from research import config_lib, errors

VARIANTS = ('layerwise', 'e2e', 'pca', 'classify')
AUTOENCODER_WORKDIR = 'runs/fmnist_ae'  # where :classify,init=pretrained finds the encoder


def get_config(arg=None):
  arg = config_lib.parse_arg(arg, positional='variant', variant='layerwise', code=30,
                             init='pretrained', source='idx', runlocal=False)
  if arg.variant not in VARIANTS:
    raise errors.ConfigError(f'Unknown variant {arg.variant!r}; use one of {VARIANTS}.')
  c = config_dict.ConfigDict()
  c.seed = 0
  c.dataset = config_lib.fashion_mnist(arg.source)
  # Pixels in [0, 1]: the targets of logistic output units.
  c.preprocess = config_lib.preprocess(standardize=False)
  c.plot = True

  if arg.variant == 'pca':
    c.task = 'pca'
    c.model = config_dict.ConfigDict()
    c.model.name = 'pca'
    c.model.num_components = arg.code
    return c

  if arg.variant == 'classify':
    return _classifier(c, arg)
  c.task = 'autoencoder'
  c.augment = config_lib.augment()  # none
  c.model = config_dict.ConfigDict()
  c.model.name = 'deep_autoencoder'
  c.model.sizes = (1000, 500, 250, arg.code)
  c.model.activation = 'sigmoid'
  c.loss = 'sigmoid_cross_entropy'
  c.optimizer = config_lib.optimizer('adam', learning_rate=1e-3)
  c.schedule = config_lib.schedule('cosine')

  c.batch_size = 100
  c.eval_batch_size = 1000
  c.num_epochs = config_dict.placeholder(float)
  c.num_train_steps = 6000    # 10 epochs of 600 steps
  # Layer-wise: 600 steps (1 epoch) per layer, the other 3,600 end to end.
  c.pretrain_steps_per_layer = 600 if arg.variant == 'layerwise' else 0

  c.log_every_steps = 200
  c.eval_every_steps = 600
  c.checkpoint_every_steps = 1200
  c.keep_checkpoints = 2
  c.tensorboard = True

  if arg.runlocal:
    c.num_train_steps = 12
    c.pretrain_steps_per_layer = 2 if arg.variant == 'layerwise' else 0
    c.batch_size = 16
    c.eval_batch_size = 64
    c.model.sizes = (32, 16, 8, arg.code)
    c.log_every_steps = 2
    c.eval_every_steps = 6
    c.checkpoint_every_steps = 6
  return c


def _classifier(c, arg):
  """The encoder plus a softmax layer, fine-tuned for classification (the
  paper's sec. on MNIST classification), from the pre-trained encoder or not."""
  if arg.init not in ('pretrained', 'random'):
    raise errors.ConfigError(f"init={arg.init!r}; use 'pretrained' or 'random'.")
  c.task = 'classification'
  c.augment = config_lib.augment()  # none
  c.model = config_dict.ConfigDict()
  c.model.name = 'encoder_classifier'
  c.model.sizes = (1000, 500, 250, arg.code)
  c.model.activation = 'sigmoid'
  c.init_from = config_dict.ConfigDict()
  c.init_from.workdir = (AUTOENCODER_WORKDIR if arg.init == 'pretrained'
                        else config_dict.placeholder(str))
  c.init_from.modules = tuple(f'encoder_{k}' for k in range(4))
  c.loss = 'softmax_cross_entropy'
  c.optimizer = config_lib.optimizer('adam', learning_rate=1e-3)
  c.schedule = config_lib.schedule('cosine')
  c.batch_size = 100
  c.eval_batch_size = 1000
  c.num_epochs = config_dict.placeholder(float)
  c.num_train_steps = 3000    # 5 epochs
  c.log_every_steps = 200
  c.eval_every_steps = 600
  c.checkpoint_every_steps = 1500
  c.keep_checkpoints = 2
  c.tensorboard = True
  if arg.runlocal:
    c.num_train_steps = 6
    c.batch_size = 16
    c.eval_batch_size = 64
    c.model.sizes = (32, 16, 8, arg.code)
    c.init_from.workdir = None  # a smoke run has no autoencoder to start from
    c.log_every_steps = 2
    c.eval_every_steps = 3
    c.checkpoint_every_steps = 3
  return c
