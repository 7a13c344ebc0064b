"""The sentence recogniser (research/tasks/transcription.py): transcripts as
characters, the model's padding-independence, its config end to end on
generated audio, launch.transcribe, and the PocketSphinx baseline."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from research.data import speech
from research.tasks import transcription

PHRASES = ('press one', 'thank you', 'goodbye now', 'please hold', 'the pound key',
           'all circuits are busy')


def test_transcripts_write_lone_digits_as_words_and_refuse_longer_numbers():
  assert speech.spoken_transcript('Press 1, or 0 for help.') == 'press one or zero for help'
  assert speech.spoken_transcript("You'd like Agent 007?") is None
  assert speech.spoken_transcript('3D audio enabled') is None
  assert speech.spoken_transcript('  ...  ') is None


def test_characters_round_trip_and_unknown_ones_are_refused():
  from research import errors
  ids = transcription.encode("it's the key")
  assert ids.min() >= 1 and transcription.decode(ids.tolist()) == "it's the key"
  assert transcription.decode([0, 1, 0, 3, 3, 0]) == 'aa'  # blanks dropped, spaces trimmed
  with pytest.raises(errors.DataError, match="'7' is not one of"):
    transcription.encode('agent 7')


def test_reverse_within_length_reverses_each_sequence_and_keeps_the_padding():
  from research.models.speech import reverse_within_length
  x = np.arange(10, dtype=np.float32).reshape(2, 5, 1)
  out = np.asarray(reverse_within_length(x, np.array([3, 5])))[..., 0]
  np.testing.assert_array_equal(out, [[2, 1, 0, 3, 4], [9, 8, 7, 6, 5]])


def test_a_recording_gives_the_same_posteriors_whatever_it_is_padded_to():
  # Both LSTM directions and the feature normalisation must see only the
  # recording: the bucket it runs in cannot change its transcript.
  import jax
  from research.models.speech import CTCRecogniser
  model = CTCRecogniser(vocab_size=transcription.VOCAB_SIZE, hidden=8, layers=2)
  wave = (np.random.default_rng(0).normal(0, 3000, 5000)).astype(np.int16)
  params = model.init(jax.random.key(0), wave[None], np.array([len(wave)]))['params']
  outputs = []
  for size in (5000, 8000, 16000):
    padded = np.zeros((2, size), np.int16)
    padded[0, :len(wave)] = wave
    log_probs, paddings = model.apply({'params': params}, padded, np.array([len(wave), 0]))
    steps = int(np.sum(np.asarray(paddings[0]) == 0))
    outputs.append(np.asarray(log_probs[0, :steps]))
  assert outputs[0].shape == outputs[1].shape == outputs[2].shape
  np.testing.assert_allclose(outputs[1], outputs[0], atol=1e-5)
  np.testing.assert_allclose(outputs[2], outputs[0], atol=1e-5)


def test_spec_augment_masks_bands_and_spans_and_only_in_training():
  import jax
  from research.models.speech import spec_augment
  x = np.ones((3, 50, 40), np.float32)
  out = np.asarray(spec_augment(x, jax.random.key(0), freq_masks=1, freq_width=8,
                                time_masks=1, time_width=10))
  assert set(np.unique(out)) <= {0.0, 1.0}
  for row in out:  # zeros form whole mel bands and whole frame spans
    band = np.all(row == 0, axis=0)
    span = np.all(row == 0, axis=1)
    assert np.array_equal(row == 0, band[None, :] | span[:, None])
    assert band.sum() <= 8 and span.sum() <= 10


def sentence_config(tmp_path, arg='runlocal'):
  from testlib import load_config, quiet, write_spoken_words
  config = quiet(load_config('spoken_sentences', arg))
  config.dataset.manual_dir = write_spoken_words(str(tmp_path / 'synthetic'), PHRASES,
                                                 per_word=3, note_seconds=0.6)
  config.test_dataset.manual_dir = write_spoken_words(str(tmp_path / 'real'), PHRASES,
                                                      per_word=1, split='test',
                                                      note_seconds=0.6)
  (tmp_path / 'tfds').mkdir(exist_ok=True)
  config.dataset.data_dir = config.test_dataset.data_dir = str(tmp_path / 'tfds')
  return config


def test_the_config_trains_two_steps_and_scores_every_test_recording(tmp_path):
  from research import train
  config = sentence_config(tmp_path)
  config.plot = True
  results = train.train_and_evaluate(config, str(tmp_path / 'run'))
  predictions = json.load(open(tmp_path / 'run' / transcription.PREDICTIONS_FILE))
  assert results['test_recordings'] == len(predictions) == len(PHRASES)
  assert {p['reference'] for p in predictions} == set(PHRASES)
  for key in ('test_greedy_wer', 'test_greedy_cer', 'test_beam_wer', 'test_beam_cer'):
    assert results[key] >= 0
  assert os.path.exists(tmp_path / 'run' / 'ctc_alignment.png')


def test_pocketsphinx_transcribes_every_test_recording(tmp_path):
  from research import train
  config = sentence_config(tmp_path, 'baseline=pocketsphinx,runlocal')
  results = train.train_and_evaluate(config, str(tmp_path / 'run'))
  predictions = json.load(open(tmp_path / 'run' / transcription.PREDICTIONS_FILE))
  assert results['test_recordings'] == len(predictions) == len(PHRASES)
  assert results['test_wer'] >= 0 and results['test_cer'] >= 0


@pytest.mark.slow
def test_resume_equals_an_uninterrupted_run(tmp_path):
  from research import train

  def config(steps):
    c = sentence_config(tmp_path)
    c.schedule.name = 'constant'
    c.num_train_steps = steps
    return c
  straight = train.train_and_evaluate(config(4), str(tmp_path / 'a'))
  train.train_and_evaluate(config(2), str(tmp_path / 'b'))
  resumed = train.train_and_evaluate(config(4), str(tmp_path / 'b'))
  for key in ('validation_loss', 'test_greedy_cer', 'test_beam_cer'):
    assert resumed[key] == straight[key], key


def run_cli(*args):
  from testlib import REPO_ROOT, subprocess_env
  return subprocess.run([sys.executable, '-m', *args], cwd=REPO_ROOT, capture_output=True,
                        text=True, timeout=300, env=subprocess_env())


@pytest.mark.slow
def test_launch_transcribe_prints_both_decodings_and_refuses_bad_files_with_exit_2(tmp_path):
  import soundfile
  from research import train
  train.train_and_evaluate(sentence_config(tmp_path), str(tmp_path / 'run'))
  real = tmp_path / 'real' / '00' / '0.wav'
  done = run_cli('launch.transcribe', f'--workdir={tmp_path / "run"}', str(real))
  assert done.returncode == 0, done.stderr
  assert [line.split(']:')[0] for line in done.stdout.splitlines()] == [
      f'{real} [best path', f'{real} [beam']
  (tmp_path / 'notes.wav').write_text('not audio at all')
  soundfile.write(tmp_path / 'wide.wav', np.zeros(1600, np.int16), 16000, subtype='PCM_16')
  for path, message in ((tmp_path / 'missing.wav', 'does not exist'),
                        (tmp_path / 'notes.wav', 'not audio soundfile can read'),
                        (tmp_path / 'wide.wav', 'sampled at 16000 Hz; the model was trained '
                                                'at 8000 Hz')):
    done = run_cli('launch.transcribe', f'--workdir={tmp_path / "run"}', str(path))
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


@pytest.mark.parametrize('case, message', [
    ('empty', "an empty transcript"),
    ('missing', 'names 1 audio file(s) that are not there'),
])
def test_launch_train_stops_on_a_bad_transcript_file_with_one_line_and_exit_2(tmp_path, case,
                                                                              message):
  config = sentence_config(tmp_path)
  csv_path = tmp_path / 'real' / 'transcripts.csv'
  lines = csv_path.read_text().splitlines()
  lines[1] = (lines[1].split(',')[0] + ',  ,test' if case == 'empty'
              else 'gone/0.wav,a lost file,test')
  csv_path.write_text('\n'.join(lines) + '\n')
  done = run_cli('launch.train', '--config=configs/spoken_sentences.py:runlocal',
                 f'--workdir={tmp_path / "run"}',
                 f'--config.dataset.manual_dir={config.dataset.manual_dir}',
                 f'--config.test_dataset.manual_dir={config.test_dataset.manual_dir}',
                 f'--config.dataset.data_dir={config.dataset.data_dir}',
                 f'--config.test_dataset.data_dir={config.test_dataset.data_dir}')
  assert done.returncode == 2, done.stderr[-2000:]
  errors = [line for line in done.stderr.splitlines() if line.startswith('error:')]
  assert len(errors) == 1 and message in errors[0], done.stderr[-2000:]
