"""Speech recognition: the features (research/audio.py) against an
independent NumPy/SciPy computation on a synthetic tone."""

from __future__ import annotations

import numpy as np
import pytest

from research import audio

CONFIG = audio.FeatureConfig(sample_rate=8000, num_mel=24)


def tone(hz=1000.0, seconds=0.3, rate=8000, amplitude=8000.0):
  t = np.arange(int(seconds * rate)) / rate
  return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def reference_log_mel(x, config):
  """The HTK recipe written out with loops and scipy: a separate reading of
  the definitions, not a copy of research/audio.py."""
  import scipy.fft
  import scipy.signal
  length, hop = config.frame_length, config.hop_length
  nfft = 1 << (length - 1).bit_length()
  rows = []
  for start in range(0, len(x) - length + 1, hop):
    f = x[start:start + length].astype(np.float64)
    f = np.append(f[0] * (1 - config.preemphasis), f[1:] - config.preemphasis * f[:-1])
    f = f * scipy.signal.get_window('hamming', length, fftbins=False)
    rows.append(np.abs(scipy.fft.rfft(f, nfft)) ** 2)
  power = np.array(rows)
  mel = lambda f: 2595 * np.log10(1 + f / 700)
  inv = lambda m: 700 * (10 ** (m / 2595) - 1)
  centres = inv(np.linspace(mel(config.fmin_hz), mel(config.sample_rate / 2),
                            config.num_mel + 2))
  bank = np.zeros((nfft // 2 + 1, config.num_mel))
  for k in range(config.num_mel):
    lo, mid, hi = centres[k], centres[k + 1], centres[k + 2]
    for b in range(nfft // 2 + 1):
      f = b * config.sample_rate / nfft
      if lo < f <= mid:
        bank[b, k] = (f - lo) / (mid - lo)
      elif mid < f < hi:
        bank[b, k] = (hi - f) / (hi - mid)
  return np.log(power @ bank + audio.LOG_FLOOR)


def test_log_mel_and_mfcc_equal_an_independent_numpy_computation_on_a_tone():
  import scipy.fft
  x = tone()
  ours = np.asarray(audio.log_mel(x[None], CONFIG))[0]
  ref = reference_log_mel(x, CONFIG)
  assert ours.shape == ref.shape == (CONFIG.num_frames(len(x)), CONFIG.num_mel)
  np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-3)
  # The tone's energy is in the band whose centre is nearest 1 kHz.
  centres = audio.mel_to_hz(np.linspace(audio.hz_to_mel(CONFIG.fmin_hz),
                                        audio.hz_to_mel(4000), CONFIG.num_mel + 2))[1:-1]
  assert np.all(ours.argmax(axis=1) == np.abs(centres - 1000).argmin())
  ceps = np.asarray(audio.mfcc(x[None], CONFIG, num_ceps=13))[0]
  np.testing.assert_allclose(ceps, scipy.fft.dct(ref, norm='ortho', axis=-1)[:, :13],
                             rtol=1e-4, atol=2e-3)


def test_deltas_of_a_linear_ramp_are_its_slope_and_normalising_ignores_padding():
  ramp = np.arange(10, dtype=np.float32)[None, :, None] * 3.0
  d = np.asarray(audio.deltas(ramp))[0, :, 0]
  np.testing.assert_allclose(d[2:-2], 3.0, rtol=1e-6)  # edges see repeated frames
  feats = np.random.default_rng(0).normal(5.0, 2.0, (1, 8, 3)).astype(np.float32)
  mask = np.array([[1, 1, 1, 1, 1, 0, 0, 0]], np.float32)
  out = np.asarray(audio.normalise(feats, mask))
  np.testing.assert_allclose(out[0, :5].mean(0), 0.0, atol=1e-5)
  np.testing.assert_allclose(out[0, :5].std(0), 1.0, rtol=1e-3)
  assert np.all(out[0, 5:] == 0)


def test_frame_energy_mask_marks_speech_not_silence():
  x = np.concatenate([np.zeros(2000, np.float32), tone(seconds=0.2), np.zeros(2000, np.float32)])
  mask = np.asarray(audio.frame_energy_mask(x[None], CONFIG))[0]
  assert mask[:15].sum() == 0 and mask[-15:].sum() == 0
  assert mask[28:38].min() == 1


@pytest.mark.parametrize('rate', [8000, 16000])
def test_frame_geometry_follows_the_sample_rate(rate):
  config = audio.FeatureConfig(sample_rate=rate)
  assert config.frame_length == rate // 40 and config.hop_length == rate // 100
  assert config.fft_length == (256 if rate == 8000 else 512)
  assert audio.mel_filterbank(config).shape == (config.fft_length // 2 + 1, 40)


# --- the isolated-word baselines and the spoken_words family ---------------------------------

def reference_dtw(a, b):
  """The textbook O(nm) recursion, one cell at a time."""
  n, m = len(a), len(b)
  acc = np.full((n + 1, m + 1), np.inf)
  acc[0, 0] = 0
  for i in range(1, n + 1):
    for j in range(1, m + 1):
      cost = np.linalg.norm(a[i - 1] - b[j - 1])
      acc[i, j] = cost + min(acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])
  return acc[n, m] / (n + m)


def test_dtw_by_anti_diagonals_equals_the_textbook_recursion_and_ignores_time_warps():
  from research.tasks import word_baselines
  rng = np.random.default_rng(0)
  query = rng.normal(size=(7, 3)).astype(np.float32)
  templates = [rng.normal(size=(n, 3)).astype(np.float32) for n in (4, 9, 7)]
  templates.append(np.repeat(query, 2, axis=0))  # the query, each frame held twice
  ours = word_baselines.dtw_distances(query, templates)
  np.testing.assert_allclose(ours, [reference_dtw(query, t) for t in templates], rtol=1e-5)
  assert ours[-1] == 0 and np.argmin(ours) == 3


def word_config(tmp_path, arg='runlocal'):
  from testlib import load_config, quiet, write_spoken_words
  from research.tasks import spoken_words
  config = quiet(load_config('spoken_words', arg))
  config.words = ('digits',)
  words = spoken_words.word_list(config)
  config.dataset.manual_dir = write_spoken_words(str(tmp_path / 'synthetic'), words, per_word=4)
  config.test_dataset.manual_dir = write_spoken_words(str(tmp_path / 'real'), words,
                                                      per_word=1, split='test')
  (tmp_path / 'tfds').mkdir(exist_ok=True)
  config.dataset.data_dir = config.test_dataset.data_dir = str(tmp_path / 'tfds')
  return config


@pytest.mark.parametrize('baseline', ['gmm', 'dtw', 'pocketsphinx'])
def test_each_baseline_scores_every_test_recording(tmp_path, baseline):
  import json

  from research import train
  config = word_config(tmp_path, f'baseline={baseline},runlocal')
  if baseline == 'gmm':
    config.model.components = 2
  results = train.train_and_evaluate(config, str(tmp_path / 'run'))
  predictions = json.load(open(tmp_path / 'run' / 'predictions_test.json'))
  assert len(predictions) == results['test_examples'] == 10
  if baseline != 'pocketsphinx':  # each word's own two notes: far above chance (0.1)
    assert results['test_accuracy'] >= 0.8
  else:  # tones are not speech; it must still answer in the word list (or nothing)
    assert all(p['predicted'] in (None, *[p['word'] for p in predictions]) for p in predictions)


def test_a_file_at_another_sample_rate_is_refused_by_name(tmp_path):
  from research import errors, train
  from testlib import write_spoken_words
  config = word_config(tmp_path)
  config.test_dataset.manual_dir = write_spoken_words(
      str(tmp_path / 'wideband'), ['zero', 'one'], per_word=1, split='test', sample_rate=16000)
  with pytest.raises(errors.DataError, match=r'00/0.wav is sampled at 16000 Hz, the config '
                                             r'expects 8000 Hz'):
    train.train_and_evaluate(config, str(tmp_path / 'run'))


def test_unknown_word_list_is_a_config_error(tmp_path):
  from research import errors, train
  config = word_config(tmp_path)
  config.words = ('digits', 'colours')
  with pytest.raises(errors.ConfigError, match='give names of word lists'):
    train.train_and_evaluate(config, str(tmp_path / 'run'))


@pytest.mark.slow
def test_resume_equals_an_uninterrupted_run(tmp_path):
  from research import train

  def config(steps):
    c = word_config(tmp_path)
    c.schedule.name = 'constant'
    c.num_train_steps = steps
    return c
  straight = train.train_and_evaluate(config(4), str(tmp_path / 'a'))
  train.train_and_evaluate(config(2), str(tmp_path / 'b'))
  resumed = train.train_and_evaluate(config(4), str(tmp_path / 'b'))
  for key in ('validation_loss', 'test_loss', 'test_accuracy'):
    assert resumed[key] == straight[key], key


def test_the_cnn_with_batch_norm_keeps_running_statistics_in_the_state(tmp_path):
  from research import train
  from research.workdir import load_run
  config = word_config(tmp_path)
  config.model.batch_norm = True
  train.train_and_evaluate(config, str(tmp_path / 'run'))
  run = load_run(str(tmp_path / 'run'))
  stats = run.model_state['batch_stats']
  means = [np.asarray(v['mean']) for v in stats.values()]
  assert len(means) == len(config.model.widths) and any(np.abs(m).max() > 0 for m in means)


def test_the_words_config_trains_two_steps_on_speech_commands_under_mock_data(tmp_path):
  # The public path (users with a network): TFDS's speech_commands, here
  # TFDS's generated examples of its features (random 16 kHz audio, random
  # labels of its 12 classes; _silence_ and _unknown_ are not words to learn).
  import tensorflow_datasets as tfds
  from testlib import load_config, quiet

  from research import train
  config = quiet(load_config('spoken_words', 'data=speech_commands,runlocal'))
  assert config.audio.sample_rate == 16000 and config.words == ('commands',)
  with tfds.testing.mock_data(num_examples=40):
    results = train.train_and_evaluate(config, str(tmp_path / 'run'))
  assert results['steps'] == 2 and np.isfinite(results['test_loss'])
  assert 0 < results['test_examples'] <= 40
