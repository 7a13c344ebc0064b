# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # LSTM gates and an n-gram baseline (character language models)
#
# A character-level LSTM language model trained with truncated backpropagation through
# time, compared with a Kneser-Ney 5-gram on the same characters (bits per character,
# lower is better), then opened up: its input, forget and output gates over real text,
# and samples from it.
#
# Runs as is on a Colab CPU, GPU or TPU runtime (the first cell installs the project).

# %%
# Setup. In Colab: fetch this project once per runtime and install what the runtime lacks
# (colabs/install.sh keeps Colab's own JAX and TensorFlow). Elsewhere: a checkout after
# `pip install -e .`. Workdirs under /content vanish with the runtime: to keep them, mount
# Drive (`from google.colab import drive; drive.mount('/content/drive')`) and set
# CLASSICNETS_RUNS=/content/drive/MyDrive/classicnets-runs before this cell.
import os
import subprocess
import sys

REPO = 'https://github.com/classicnets/classicnets'  # = pyproject.toml [project.urls]
if 'google.colab' in sys.modules:
  checkout = os.environ.get('CLASSICNETS_CHECKOUT', '/content/classicnets')
  if not os.path.isdir(checkout):
    subprocess.run(['git', 'clone', '--depth=1', os.environ.get('CLASSICNETS_REPO', REPO),
                    checkout], check=True)
    subprocess.run(['bash', os.path.join(checkout, 'colabs', 'install.sh'), sys.executable],
                   check=True)
  sys.path.insert(0, checkout)
from research import notebook

SMOKE, RUNS = notebook.setup()  # cwd: the repository root; SMOKE: small data, few steps (CI)

# %% [markdown]
# ## A corpus
#
# Any directory of plain UTF-8 text works (the project's `text_corpus` TFDS builder
# joins its files and splits the text 90/5/5 into train / validation / test). Where
# Debian's `fortunes` package is installed we use its 2.5 MB of quotations; elsewhere,
# e.g. in Colab, Karpathy's Tiny Shakespeare from TFDS is written to a file first.
# SMOKE mode uses this repository's README.

# %%
import shutil

corpus_dir = os.path.join(RUNS, 'corpus')
if SMOKE:
  os.makedirs(corpus_dir, exist_ok=True)
  shutil.copy('README.md', corpus_dir)
elif os.path.isdir('/usr/share/games/fortunes'):
  corpus_dir = '/usr/share/games/fortunes'
else:
  import tensorflow_datasets as tfds
  os.makedirs(corpus_dir, exist_ok=True)
  splits = [tfds.as_numpy(tfds.load('tiny_shakespeare', split=s))
            for s in ('train', 'validation', 'test')]
  with open(os.path.join(corpus_dir, 'tiny_shakespeare.txt'), 'w', encoding='utf-8') as f:
    f.write(''.join(ex['text'].decode('utf-8') for split in splits for ex in split))
print(corpus_dir, sorted(os.listdir(corpus_dir))[:5])

# %% [markdown]
# ## The LSTM and a Kneser-Ney 5-gram on the same characters
#
# `configs/fortunes_char.py` is the character-level LM config: `:lstm` (embedding 64 →
# LSTM 256 → softmax, truncated BPTT over 64-character windows with the state carried
# across batches) and `:ngram,order=N` (interpolated modified Kneser-Ney; Chen & Goodman
# 1998), evaluated on exactly the same validation and test characters. Pointing the
# config at another directory takes two fields: the corpus and a TFDS data dir of its
# own (a prepared corpus is not rebuilt when the directory changes).

# %%
from research import config_lib, train


def corpus_config(variant: str):
  config = config_lib.load('configs/fortunes_char.py', variant)
  config.dataset.manual_dir = corpus_dir
  config.dataset.data_dir = os.path.join(RUNS, 'tfds_' + os.path.basename(corpus_dir))
  os.makedirs(config.dataset.data_dir, exist_ok=True)
  return config


lstm_config = corpus_config('runlocal' if SMOKE else 'lstm')
if not SMOKE:
  lstm_config.num_train_steps = 6000  # about 2 minutes on one CPU core; the table trains 29,438
lstm_dir = os.path.join(RUNS, 'lm_lstm')
lstm = train.train_and_evaluate(lstm_config, lstm_dir)
ngram = train.train_and_evaluate(corpus_config('ngram,order=5'), os.path.join(RUNS, 'lm_kn5'))
for name, r in (('LSTM', lstm), ('Kneser-Ney 5-gram', ngram)):
  print(f"{name:>18}: validation {r['validation_bits_per_token']:.3f}, "
        f"test {r['test_bits_per_token']:.3f} bits per character")

# %% [markdown]
# ## The gates at work
#
# An LSTM cell (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000)
# keeps a memory `c`; at each character the input gate decides how much new content to
# write, the forget gate how much of the old memory to keep, and the output gate how much
# of the memory to expose as the hidden state. The picture shows these three gates for 32
# units over a piece of validation text.

# %%
notebook.show(os.path.join(lstm_dir, 'lstm_gates.png'))

# %% [markdown]
# The gates are ordinary arrays: `plots.lstm_gates` runs the trained model over any text
# and returns them (characters × units). Below, the units whose forget gate differs
# most between spaces and letters, i.e. units that reset or keep their memory at word
# boundaries, and a sample of generated text.

# %%
import numpy as np

from research import plots, sample

_, vocab, model, params = sample.load_run(lstm_dir)
text = 'The quick brown fox jumps over the lazy dog, and then it rests in the shade.'
text = ''.join(ch for ch in text if ch in vocab.tokens)
gates = plots.lstm_gates(model, params, vocab.encode(text))
is_space = np.array([ch == ' ' for ch in text])
gap = gates['forget'][is_space].mean(0) - gates['forget'][~is_space].mean(0)
for unit in np.argsort(-np.abs(gap))[:3]:
  print(f'unit {unit}: forget gate {gates["forget"][is_space, unit].mean():.2f} at spaces, '
        f'{gates["forget"][~is_space, unit].mean():.2f} elsewhere')
print(sample.sample(lstm_dir, prompt='The ', length=200, temperature=0.8, seed=0))
