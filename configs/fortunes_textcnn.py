r"""Text classification on Debian's `fortunes`: which file (category) a
quotation comes from. Kim (2014)'s TextCNN against a bag-of-words logistic
regression and an LSTM classifier (table `fortunes_text`).

Data: `apt-get install fortunes` puts about 16,000 quotations in 43 category
files under /usr/share/games/fortunes (`people`, `computers`, `food`, `law`,
`zippy`, ...; the `off/` directory is not read). The project's `labelled_text`
builder reads each file as one class, quotations separated by `%` lines, and
splits every class 80/10/10 into train / validation / test (seeded, stratified).
Pass another directory with --config.dataset.manual_dir=DIR (any layout the
builder accepts: CSV, JSON lines, class folders, fortune files).

Variants (`--config=configs/fortunes_textcnn.py:VARIANT`):
  :cnn (default)  TextCNN, CNN-rand (Kim 2014: windows 3/4/5 x 100 filters,
                  max-over-time pooling, dropout 0.5, max-norm 3), random
                  300-d word vectors learned from scratch (no pre-trained
                  vectors exist offline)
  :bow            multinomial logistic regression on word counts
  :lstm           1-layer LSTM (150 units, 300-d words), last state -> softmax
  :runlocal       a smoke run (a few steps)

Reproduce the table (2-core CPU; README, "Results"):
  python -m launch.reproduce fortunes_text --seeds=3 --workers=2 --root=runs/tables
One run, and a prediction from it:
  python -m launch.train --config=configs/fortunes_textcnn.py:cnn --workdir=runs/fortunes_cnn
  python -m launch.predict --workdir=runs/fortunes_cnn "Real programmers don't eat quiche."

No published figure exists for this corpus; the claim tested is the article's
(CNNs make strong text classifiers by finding indicative key phrases).
"""

from ml_collections import config_dict

from research import config_lib, errors

MODELS = ('cnn', 'bow', 'lstm')


def get_config(arg=None):
  arg = config_lib.parse_arg(arg, positional='model', model='cnn', runlocal=False)
  if arg.model not in MODELS:
    raise errors.ConfigError(f'Unknown variant {arg.model!r}; use one of {MODELS}.')
  c = config_dict.ConfigDict()
  c.task = 'classification'
  c.seed = 0
  c.dataset = config_lib.dataset(
      'labelled_text', manual_dir=config_lib.FORTUNES_DEBIAN_DIR, eval_split='test')
  # Quotations are 45 words on average; 64 ids cover most of them whole.
  c.text = config_lib.text_classification(max_length=64, lowercase=True, min_count=2)
  c.augment = config_lib.augment()  # none

  c.model = config_dict.ConfigDict()
  # Chosen on the validation split (accuracy after 10 epochs, seed 0): TextCNN
  # 128-d vectors 51.6 %, 300-d (Kim's size) 55.7 %, 128-d at lr 3e-3 54.2 %,
  # 128-d for 20 epochs 52.9 %; bag of words lr 1e-2 with L2 1e-5 / 1e-4 / 3e-4 /
  # 1e-3: 49.7 / 51.1 / 51.0 / 49.1 %, lr 3e-3: 49.7 %, lr 3e-2: 51.7 %,
  # min_count 1: 50.4 %; LSTM 128-d / 128 units 43.5 %, 300-d / 150 units 43.8 %.
  if arg.model == 'cnn':
    c.model.name = 'textcnn'
    c.model.embed_dim = 300
    c.model.window_sizes = (3, 4, 5)
    c.model.num_filters = 100
    c.model.activation = 'relu'
    c.model.dropout_rate = 0.5
    max_norm, learning_rate, weight_decay = 3.0, 1e-3, 0.0
  elif arg.model == 'bow':
    c.model.name = 'bag_of_words'
    max_norm, learning_rate, weight_decay = None, 3e-2, 1e-4
  else:
    c.model.name = 'rnn_text'
    c.model.cell = 'lstm'
    c.model.embed_dim = 300
    c.model.hidden_size = 150
    c.model.dropout_rate = 0.5
    c.model.dtype = 'float32'
    max_norm, learning_rate, weight_decay = None, 1e-3, 0.0

  c.loss = 'softmax_cross_entropy'
  c.optimizer = config_lib.optimizer(
      'adam', learning_rate=learning_rate, weight_decay=weight_decay, max_norm=max_norm)
  c.schedule = config_lib.schedule('cosine')

  c.batch_size = 50           # Kim 2014's mini-batch size
  c.eval_batch_size = 500
  c.num_epochs = 10
  c.num_train_steps = config_dict.placeholder(int)  # overrides num_epochs when set

  c.log_every_steps = 100
  c.eval_every_steps = 0
  c.checkpoint_every_steps = 1000
  c.keep_checkpoints = 2
  c.tensorboard = True
  c.plot = True

  if arg.runlocal:
    c.num_train_steps = 4
    c.batch_size = 4
    c.eval_batch_size = 8
    c.text.max_length = 16
    c.log_every_steps = 2
    c.eval_every_steps = 2
    c.checkpoint_every_steps = 2
    if 'embed_dim' in c.model:
      c.model.embed_dim = 16
  return c
