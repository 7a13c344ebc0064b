r"""Character-level LSTM language model on Tiny Shakespeare (Karpathy's char-rnn).

Reproduce (one GPU, a few minutes; the TFDS `tiny_shakespeare` files must be
prepared, see README "Data"):
  python -m launch.train --config=configs/tiny_shakespeare_lstm.py --workdir=runs/ts_lstm
  python -m launch.sample --workdir=runs/ts_lstm --temperature=0.8
Speed of the training step (the `launch.benchmark` defaults are these shapes:
2 layers, hidden 512, batch 64, sequence 128):
  python -m launch.benchmark --config=configs/tiny_shakespeare_lstm.py

Data: TFDS `tiny_shakespeare` (1.0M train / 56k validation / 56k test
characters, 65-character vocabulary from the train split).
Model: embedding 128 -> 2 x LSTM 512 (forget-gate bias 1) -> softmax, dropout
0.2 on the non-recurrent connections (Zaremba et al. 2014, §3), truncated BPTT
over windows of 128 characters with the state carried across batches, Adam
with global-norm clipping at 1.0.
Paper: no published table for this corpus; Karpathy's char-rnn reports a
validation loss of about 1.4-1.5 nats/char (2.0-2.2 bits/char) for a model of
this size. Ours: run it where the data exists.

Variants: `:runlocal` (a few steps, tiny shapes). `tiny_shakespeare_rnn.py`
and `tiny_shakespeare_gru.py` are this config with the other cells.
"""

from ml_collections import config_dict

from research import config_lib


def get_config(arg=None):
  arg = config_lib.parse_arg(arg, runlocal=False)
  c = config_dict.ConfigDict()
  c.task = 'language_model'
  c.seed = 0
  c.dataset = config_lib.dataset('tiny_shakespeare', eval_split='validation')
  c.text = config_lib.text('char')

  c.model = config_dict.ConfigDict()
  c.model.name = 'rnn_lm'
  c.model.cell = 'lstm'
  c.model.num_layers = 2
  c.model.embed_dim = 128
  c.model.hidden_size = 512
  c.model.dropout_rate = 0.2
  c.model.forget_bias = 1.0
  c.model.tie_embeddings = False
  c.model.record_gates = False
  c.model.dtype = 'float32'
  c.model.scan_unroll = 1     # time steps per compiled loop iteration (speed only)
  c.model.lstm_impl = 'onednn'  # LSTM: oneDNN on a CPU in float32, else 'xla' (speed only)

  c.seq_len = 128
  c.batch_size = 64
  c.eval_batch_size = 64
  c.optimizer = config_lib.optimizer('adam', learning_rate=2e-3, grad_clip_norm=1.0)
  c.schedule = config_lib.schedule('cosine', warmup_steps=100)
  c.num_epochs = 20.0
  c.num_train_steps = config_dict.placeholder(int)  # overrides num_epochs when set

  c.log_every_steps = 50
  c.eval_every_steps = 500
  c.checkpoint_every_steps = 500
  c.keep_checkpoints = 2
  c.tensorboard = True
  c.plot = True

  if arg.runlocal:
    c.num_train_steps = 4
    c.batch_size = 2
    c.eval_batch_size = 2
    c.seq_len = 4
    c.model.num_layers = 2
    c.model.embed_dim = 16
    c.model.hidden_size = 32
    c.log_every_steps = 2
    c.eval_every_steps = 2
    c.checkpoint_every_steps = 2
  return c
