r"""Spoken phrases and sentences: a bidirectional LSTM trained with CTC on
synthetic voices, against PocketSphinx, tested on a real speaker.

Data (once; from Debian packages, hash-checked / generated deterministically):
  python -m launch.get_data asterisk_sounds      # data/asterisk_sounds: the real test speech
  sudo apt-get install espeak-ng flite fortunes  # the synthesisers and the text they read
  python -m launch.synthesize_speech --sentences=12000 --dir=data/synth_sentences --workers=2

Train and evaluate (test: Asterisk's spoken prompts other than the isolated
digits, letters and NATO words, one professional female speaker, 8 kHz; never
used for training or tuning):
  python -m launch.train --config=configs/spoken_sentences.py --workdir=runs/sentences_ctc
  python -m launch.transcribe --workdir=runs/sentences_ctc some.wav   # any 8 kHz WAV

Variants (`--config=configs/spoken_sentences.py:KEY=VALUE,...`):
  baseline=pocketsphinx   no network: CMU PocketSphinx with its own US-English
                          models (research/tasks/sentence_baselines.py)
  runlocal                a smoke run: 2 steps

Results: README, "Speech recognition" (table `speech_sentences`).
"""

from ml_collections import config_dict

from research import config_lib

SYNTHETIC_DIR = 'data/synth_sentences'
ASTERISK_DIR = 'data/asterisk_sounds'


def get_config(arg=None):
  arg = config_lib.parse_arg(arg, baseline='', runlocal=False)
  c = config_dict.ConfigDict()
  c.task = 'transcription_baseline' if arg.baseline else 'transcription'
  c.seed = 0

  # Training speech (its `validation` split: held-out synthetic phrases) ...
  c.dataset = config_lib.dataset('audio_folder', manual_dir=SYNTHETIC_DIR,
                                 eval_split='validation')
  # ... and the test speech: real recordings, every one in its test split,
  # without the isolated words (table speech_words tests those).
  c.test_dataset = config_lib.dataset('audio_folder', manual_dir=ASTERISK_DIR)
  c.test_exclude_folders = ('digits', 'letters', 'phonetic')

  c.audio = config_dict.ConfigDict()
  c.audio.sample_rate = 8000   # the test recordings' telephone band; files at others stop
  c.audio.max_seconds = 4.0    # training utterances are padded to this; longer ones left out

  c.model = config_dict.ConfigDict()
  c.model.name = arg.baseline or 'blstm_ctc'
  if not arg.baseline:
    c.model.num_mel = 40
    c.model.stack = 4          # frames per LSTM step: 40 ms (Sak et al. 2015 use 30 ms)
    c.model.hidden = 256       # per direction
    c.model.layers = 3
    c.model.dropout_rate = 0.2
    c.model.freq_masks = 2     # SpecAugment (Park et al. 2019)
    c.model.freq_width = 8
    c.model.time_masks = 2
    c.model.time_width = 10

  c.decode = config_dict.ConfigDict()
  c.decode.beam_size = 16
  c.decode.prune_below = -12.0  # log probability: characters below it at a step not extended

  # Clipping: an LSTM's gradient spikes now and then (Graves 2013 clips too).
  c.optimizer = config_lib.optimizer('adam', learning_rate=1e-3, grad_clip_norm=5.0)
  c.schedule = config_lib.schedule('cosine')
  c.batch_size = 32
  c.eval_batch_size = 64
  c.num_epochs = 9.0
  c.num_train_steps = config_dict.placeholder(int)  # overrides num_epochs when set

  c.log_every_steps = 50
  c.eval_every_steps = 500
  c.checkpoint_every_steps = 500
  c.keep_checkpoints = 2
  c.tensorboard = True
  c.plot = True

  if arg.runlocal:
    c.num_train_steps = 2
    c.batch_size = 4
    c.eval_batch_size = 8
    c.log_every_steps = 1
    c.eval_every_steps = 1
    c.checkpoint_every_steps = 1
    if not arg.baseline:
      c.model.hidden = 8
      c.model.layers = 1
      c.decode.beam_size = 2
  return c
