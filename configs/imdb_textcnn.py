r"""Kim (2014)'s TextCNN on IMDB movie reviews (Maas et al. 2011; 25,000
train / 25,000 test, positive vs negative), CNN-rand by default.

Data: TFDS `imdb_reviews/plain_text`; download it where a network exists
(`tfds build imdb_reviews/plain_text --data_dir=DIR`, then
--config.dataset.data_dir=DIR). Pre-trained vectors: --config.text.vectors_path=PATH
(word2vec binary/text or GloVe text; set model.embed_dim to their size).

Reviews average about 230 words; the first 400 are kept. Recipe as Kim's
(windows 3/4/5 x 100, dropout 0.5, max-norm 3, batch 50) with Adam 1e-3 for 5
epochs (long reviews give many windows per example).

  python -m launch.train --config=configs/imdb_textcnn.py --workdir=runs/imdb_textcnn

Context (not Kim's table): Maas et al. 2011 report 88.89 % test accuracy for
their full model with bag-of-words features. Ours: not run here (no IMDB files
offline). Variants: `:runlocal` (a smoke run).
"""

from ml_collections import config_dict

from research import config_lib


def get_config(arg=None):
  arg = config_lib.parse_arg(arg, runlocal=False)
  c = config_dict.ConfigDict()
  c.task = 'classification'
  c.seed = 0
  c.dataset = config_lib.dataset('imdb_reviews', eval_split='test')
  c.text = config_lib.text_classification(max_length=400, lowercase=True, min_count=2)
  c.augment = config_lib.augment()  # none

  c.model = config_dict.ConfigDict()
  c.model.name = 'textcnn'
  c.model.embed_dim = 300
  c.model.window_sizes = (3, 4, 5)
  c.model.num_filters = 100
  c.model.activation = 'relu'
  c.model.dropout_rate = 0.5

  c.loss = 'softmax_cross_entropy'
  c.optimizer = config_lib.optimizer('adam', learning_rate=1e-3, max_norm=3.0)
  c.schedule = config_lib.schedule('cosine')

  c.batch_size = 50
  c.eval_batch_size = 500
  c.num_epochs = 5
  c.num_train_steps = config_dict.placeholder(int)  # overrides num_epochs when set

  c.log_every_steps = 100
  c.eval_every_steps = 500
  c.checkpoint_every_steps = 1000
  c.keep_checkpoints = 2
  c.tensorboard = True
  c.plot = True

  if arg.runlocal:
    c.num_train_steps = 4
    c.batch_size = 4
    c.eval_batch_size = 8
    c.text.max_length = 32
    c.model.embed_dim = 16
    c.log_every_steps = 2
    c.eval_every_steps = 2
    c.checkpoint_every_steps = 2
  return c
