r"""Kim (2014), "Convolutional Neural Networks for Sentence Classification",
on SST-2 (binary sentiment; Socher et al. 2013): CNN-rand, CNN-static and
CNN-non-static (table `kim2014`).

Data: TFDS `glue/sst2` (67,349 training phrases and sentences, 872 validation
sentences; GLUE hides its test labels, so we evaluate on validation where Kim
reports the 1,821-sentence test set). Download it where a network exists:
`tfds build glue/sst2 --data_dir=DIR`, then --config.dataset.data_dir=DIR.
Pre-trained vectors (static, nonstatic): word2vec GoogleNews 300-d
(`GoogleNews-vectors-negative300.bin`, from code.google.com/archive/p/word2vec),
expected at ~/data/word2vec/GoogleNews-vectors-negative300.bin, or pass
--config.text.vectors_path=PATH (word2vec binary/text or GloVe text; .gz too).

Variants (`--config=configs/sst2_textcnn.py:VARIANT`):
  :rand       word vectors learned from random init
  :static     word2vec vectors, kept fixed (optimizer.frozen_modules=('embed',))
  :nonstatic  word2vec vectors, fine-tuned (default)
  :runlocal   a smoke run (a few steps)

Kim's recipe (sec. 3.1-3.2): windows 3, 4, 5 with 100 feature maps each, ReLU,
max-over-time pooling, dropout 0.5 on the penultimate layer, l2 max-norm 3 on
the softmax weights, mini-batches of 50, Adadelta (rho 0.95, eps 1e-6), 25
epochs; unknown words U(-0.25, 0.25).

Reproduce (a GPU is advisable; about 34,000 steps):
  python -m launch.reproduce kim2014 --seeds=3 --root=runs/tables
  python -m launch.train --config=configs/sst2_textcnn.py:nonstatic --workdir=runs/sst2_nonstatic
Paper (Kim 2014, Table 2, SST-2 test accuracy): CNN-rand 82.7, CNN-static 86.8,
CNN-non-static 87.2 %. Ours: not run here (no SST-2 files or word2vec vectors
offline); the same code runs offline on `configs/fortunes_textcnn.py`.
Throughput of this model on the development CPU: README, "Training speed".
"""

import os

from ml_collections import config_dict

from research import config_lib, errors

VARIANTS = ('rand', 'static', 'nonstatic')
WORD2VEC_PATH = os.path.expanduser('~/data/word2vec/GoogleNews-vectors-negative300.bin')


def get_config(arg=None):
  arg = config_lib.parse_arg(arg, positional='variant', variant='nonstatic', runlocal=False)
  if arg.variant not in VARIANTS:
    raise errors.ConfigError(f'Unknown variant {arg.variant!r}; use one of {VARIANTS}.')
  c = config_dict.ConfigDict()
  c.task = 'classification'
  c.seed = 0
  c.dataset = config_lib.dataset('glue_sst2', eval_split='validation')
  # Kim's preprocessing lowercases SST; its longest sentence is 53 tokens.
  c.text = config_lib.text_classification(
      max_length=64, lowercase=True, min_count=1,
      vectors_path=None if arg.variant == 'rand' else WORD2VEC_PATH)
  c.augment = config_lib.augment()  # none

  c.model = config_dict.ConfigDict()
  c.model.name = 'textcnn'
  c.model.embed_dim = 300
  c.model.window_sizes = (3, 4, 5)
  c.model.num_filters = 100
  c.model.activation = 'relu'
  c.model.dropout_rate = 0.5

  c.loss = 'softmax_cross_entropy'
  c.optimizer = config_lib.optimizer(
      'adadelta', learning_rate=1.0, rho=0.95, eps=1e-6, max_norm=3.0,
      frozen_modules=('embed',) if arg.variant == 'static' else ())
  c.schedule = config_lib.schedule('constant')

  c.batch_size = 50
  c.eval_batch_size = 872     # the whole validation split in one batch
  c.num_epochs = 25
  c.num_train_steps = config_dict.placeholder(int)  # overrides num_epochs when set

  c.log_every_steps = 200
  c.eval_every_steps = 1347   # once per epoch
  c.checkpoint_every_steps = 2000
  c.keep_checkpoints = 2
  c.tensorboard = True
  c.plot = True

  if arg.runlocal:
    c.num_train_steps = 4
    c.batch_size = 4
    c.eval_batch_size = 8
    c.text.max_length = 16
    c.model.embed_dim = 16 if arg.variant == 'rand' else 300
    c.log_every_steps = 2
    c.eval_every_steps = 2
    c.checkpoint_every_steps = 2
  return c
