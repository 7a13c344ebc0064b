r"""ResNet-50 on ImageNet (ILSVRC-2012), for TPU VMs and GPUs.

Reproduce (needs the TFDS `imagenet2012` files, prepared from the manually
downloaded ILSVRC tars; e.g. a TPU v4-32 with TFDS_DATA_DIR=gs://BUCKET/tfds):
  python -m launch.train --config=configs/imagenet2012_resnet50.py --workdir=gs://BUCKET/runs/r50

Figures: the flax examples' linen ResNet-50 reaches 76.54% top-1 (single
224 crop) in 100 epochs, 2.1 h on a TPU v3-32 (flax examples/imagenet README);
He et al. 2016 define the network (Table 1). Setup here follows the flax
recipe: batch 1024, SGD Nesterov momentum 0.9, lr 0.1 x batch/256 with 5
warm-up epochs then cosine decay, L2 1e-4, 100 epochs, bfloat16 compute,
Inception-style random resized crops + flips, 224 px, centre-crop evaluation.
Data is streamed with tf.data (research/data/streaming.py StreamingFeeder).
Ours: not run (no ImageNet on the development machine).

Variants: `:runlocal` (2 steps at 64 px, batch 8, for tests and dry runs).
"""

from ml_collections import config_dict

from research import config_lib


def get_config(arg=None):
  arg = config_lib.parse_arg(arg, runlocal=False)
  c = config_dict.ConfigDict()
  c.task = 'classification'
  c.seed = 0

  # download=True lets TFDS build from the ILSVRC tars in DATA_DIR/downloads/manual.
  c.dataset = config_lib.dataset('imagenet2012', eval_split='validation')
  c.preprocess = config_lib.preprocess(image_size=224, standardize=False)  # fixed ImageNet mean/std
  c.augment = config_lib.augment()  # crops and flips happen in the tf.data stream

  c.model = config_dict.ConfigDict()
  c.model.name = 'resnet'
  c.model.depth = 50
  c.model.stem = 'imagenet'
  c.model.zero_init_residual = True
  c.model.dtype = 'bfloat16'

  c.loss = 'softmax_cross_entropy'
  c.batch_size = 1024
  c.optimizer = config_lib.optimizer('momentum', learning_rate=0.1 * c.batch_size / 256,
                                     nesterov=True, weight_decay=1e-4)
  steps_per_epoch = 1281167 // c.batch_size
  c.schedule = config_lib.schedule('cosine', warmup_steps=5 * steps_per_epoch)

  c.eval_batch_size = 1000
  c.num_epochs = 100.0
  c.num_train_steps = config_dict.placeholder(int)  # overrides num_epochs when set

  c.log_every_steps = 100
  c.eval_every_steps = 5 * steps_per_epoch
  c.checkpoint_every_steps = 1000
  c.keep_checkpoints = 2
  c.tensorboard = True
  c.plot = True

  if arg.runlocal:
    c.preprocess.image_size = 64
    c.batch_size = 8
    c.eval_batch_size = 8
    c.schedule.warmup_steps = 1
    c.num_train_steps = 2
    c.log_every_steps = 1
    c.eval_every_steps = 0
    c.checkpoint_every_steps = 2
  return c
