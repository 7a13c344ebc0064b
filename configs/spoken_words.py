r"""Isolated spoken words: deep nets against the GMM/HMM era, trained on
synthetic voices and tested on a real speaker.

Data (once; from Debian packages, hash-checked / generated deterministically):
  python -m launch.get_data asterisk_sounds     # data/asterisk_sounds: the real test speech
  sudo apt-get install espeak-ng flite          # the speech synthesisers (Debian/Ubuntu)
  python -m launch.synthesize_speech            # data/synth_words: the synthetic training speech

Train and evaluate (test: Asterisk's recordings of the digits zero..nine and
the letters a..z, one professional female speaker, 8 kHz; never used for
training or tuning):
  python -m launch.train --config=configs/spoken_words.py --workdir=runs/words_cnn

Variants (`--config=configs/spoken_words.py:KEY=VALUE,...`):
  model=cnn|frame_mlp           the network (CNN on the log-mel spectrogram, or
                                an MLP on 11 stacked frames, Hinton et al. 2012)
  baseline=gmm|dtw|pocketsphinx no network: a Gaussian mixture per word, DTW
                                template matching, or CMU PocketSphinx
                                restricted to the word list (research/tasks/word_baselines.py)
  phonetic                      also the NATO alphabet (alpha..zulu, niner)
  data=speech_commands          TFDS's Speech Commands (Warden 2018; real speakers,
                                16 kHz; needs a network once: `tfds build
                                speech_commands`): its 10 command words, its
                                own train/validation/test splits
  runlocal                      a smoke run: 2 steps

Results: README, "Speech recognition" (table `speech_words`: python -m
launch.reproduce speech_words --seeds=3 --workers=2; 13 runs, 22 min on the
2-core CPU): test accuracy MLP 63.0%, PocketSphinx 50.0%, CNN 41.7%, DTW
40.7%, GMM 35.2% (36 real recordings). Paper context, not comparable: Hinton
et al. 2012 report deep nets overtaking GMM acoustic models on TIMIT and large
vocabularies; here one held-out speaker and a closed word list.
"""

from ml_collections import config_dict

from research import config_lib, errors

SYNTHETIC_DIR = 'data/synth_words'
ASTERISK_DIR = 'data/asterisk_sounds'


def get_config(arg=None):
  arg = config_lib.parse_arg(arg, model='cnn', baseline='', phonetic=False,
                             data='synthetic', runlocal=False)
  if arg.data not in ('synthetic', 'speech_commands'):
    raise errors.ConfigError(f'data={arg.data!r}: synthetic or speech_commands.')
  c = config_dict.ConfigDict()
  c.task = 'spoken_word_baseline' if arg.baseline else 'spoken_words'
  c.seed = 0

  # Training speech (its `validation` split: held-out synthetic utterances) ...
  c.dataset = config_lib.dataset('audio_folder', manual_dir=SYNTHETIC_DIR,
                                 eval_split='validation')
  # ... and the test speech: real recordings, every one in its test split.
  c.test_dataset = config_lib.dataset('audio_folder', manual_dir=ASTERISK_DIR)
  # The classes: word lists of research/data/speech_synth.py, in order.
  c.words = ('digits', 'letters') + (('phonetic',) if arg.phonetic else ())
  if arg.data == 'speech_commands':
    c.dataset = config_lib.dataset('speech_commands', eval_split='validation')
    c.test_dataset = config_lib.dataset('speech_commands')
    c.words = ('commands',)

  c.audio = config_dict.ConfigDict()
  # The test recordings' telephone band (Speech Commands: 16 kHz); files at others stop.
  c.audio.sample_rate = 16000 if arg.data == 'speech_commands' else 8000
  c.audio.clip_seconds = 1.0   # each word's speech centred in 1 s (longest test word: 0.9 s)

  c.augment = config_dict.ConfigDict()
  c.augment.max_shift_ms = 100.0  # where in the clip the word sits
  c.augment.gain_db = 6.0         # how loud it is

  c.model = config_dict.ConfigDict()
  if arg.baseline:
    c.model.name = arg.baseline
    c.model.components = 8           # gmm: Gaussians per word (diagonal)
    c.model.templates_per_word = 20  # dtw: training utterances kept as templates
  elif arg.model == 'frame_mlp':
    c.model.name = 'frame_mlp'
    c.model.num_mel = 40
    c.model.context = 5
    c.model.hidden = (512, 512)
    c.model.dropout_rate = 0.2
  else:
    c.model.name = arg.model
    c.model.num_mel = 40
    c.model.widths = (16, 32, 64, 128)  # one 3x3 conv each, 2x2 max pools between
    c.model.dense = 256
    c.model.dropout_rate = 0.3
    c.model.batch_norm = False

  c.optimizer = config_lib.optimizer('adam', learning_rate=1e-3)
  c.schedule = config_lib.schedule('cosine')
  c.batch_size = 64
  c.eval_batch_size = 256
  c.num_epochs = 20.0
  c.num_train_steps = config_dict.placeholder(int)  # overrides num_epochs when set

  c.log_every_steps = 50
  c.eval_every_steps = 200
  c.checkpoint_every_steps = 200
  c.keep_checkpoints = 2
  c.tensorboard = True
  c.plot = True

  if arg.runlocal:
    c.num_train_steps = 2
    c.batch_size = 8
    c.eval_batch_size = 16
    c.log_every_steps = 1
    c.eval_every_steps = 1
    c.checkpoint_every_steps = 1
    if not arg.baseline and c.model.name == 'cnn':
      c.model.widths = (4, 8)
      c.model.dense = 8
    elif not arg.baseline:
      c.model.hidden = (8,)
  return c
