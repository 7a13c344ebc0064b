"""research/data/speech_synth.py: the plan, rendering and the directory it
writes, with a fake synthesiser (no binaries), then once with the installed
espeak-ng and flite."""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from research import errors
from research.data import speech_synth as ss
from testlib import REPO_ROOT, subprocess_env

RATE_IN = 16000
TONE_S = 0.5


class FakeSynthesiser:
  """A tone (its pitch set by the word) of TONE_S between two 0.2 s silences."""

  def __init__(self, broken: bool = False):
    self.broken = broken  # raises if asked to speak: proves nothing was rendered

  def __call__(self, utterance):
    if self.broken:
      raise AssertionError(f'rendered {utterance.audio}')
    t = np.arange(int(TONE_S * RATE_IN)) / RATE_IN
    tone = 0.5 * np.sin(2 * np.pi * self.hz(utterance.word) * t)
    silence = np.zeros(int(0.2 * RATE_IN))
    return np.concatenate([silence, tone, silence]).astype(np.float32), RATE_IN

  @staticmethod
  def hz(word: str) -> float:
    return 200.0 + 25 * len(word)

  def versions(self):
    return {'fake': '1'}


def spec(**changes) -> ss.Utterance:
  base = ss.plan(['seven'], 1, seed=3)[0]
  return dataclasses.replace(base, **{'peak_db': -10.0, 'snr_db': 20.0, 'speed': 1.0,
                                      **changes})


def files_of(directory) -> dict[str, bytes]:
  out = {}
  for root, _, names in os.walk(directory):
    for name in names:
      path = os.path.join(root, name)
      with open(path, 'rb') as f:
        out[os.path.relpath(path, directory)] = f.read()
  return out


def test_the_plan_is_the_same_for_the_same_seed_and_differs_with_it():
  words = ss.words_of(['digits', 'letters'])
  first, again, other = (ss.plan(words, 4, seed) for seed in (0, 0, 1))
  assert first == again and first != other
  assert len(first) == 36 * 4 and [u.index for u in first] == list(range(144))
  assert [u.audio for u in first[:2]] == ['zero/0000.wav', 'zero/0001.wav']
  assert {u.synthesiser for u in first} == {'espeak-ng', 'flite'}
  for u in first:
    if u.synthesiser == 'flite':
      assert u.voice in ss.FLITE_VOICES and ss.FLITE_STRETCH[0] <= u.rate <= ss.FLITE_STRETCH[1]
    else:
      accent, _, variant = u.voice.partition('+')
      assert accent in ss.ESPEAK_ACCENTS and variant in ss.ESPEAK_VARIANTS
      assert ss.ESPEAK_PITCH[0] <= u.pitch <= ss.ESPEAK_PITCH[1]
    assert ss.SPEED[0] <= u.speed <= ss.SPEED[1] and ss.SNR_DB[0] <= u.snr_db <= ss.SNR_DB[1]


def test_word_lists_and_what_the_synthesisers_are_given_to_say():
  assert [len(ss.WORD_LISTS[n]) for n in ('digits', 'letters', 'phonetic')] == [10, 26, 27]
  assert ss.WORD_LISTS['phonetic'][0] == 'alpha' and 'juliet' in ss.WORD_LISTS['phonetic']
  assert ss.spoken_text('a') == 'A' and ss.spoken_text('xray') == 'x-ray'
  assert ss.spoken_text('seven') == 'seven'
  with pytest.raises(errors.ConfigError, match='digits, letters, phonetic'):
    ss.words_of(['digits', 'numbers'])
  with pytest.raises(errors.ConfigError, match='single words'):
    ss.plan(['two words'], 1, 0)


def test_rendering_is_deterministic_at_the_rate_level_and_snr_asked():
  fake = FakeSynthesiser()
  noisy = ss.render(spec(), 8000, fake)
  assert noisy.dtype == np.int16 and noisy.ndim == 1
  assert np.array_equal(noisy, ss.render(spec(), 8000, fake))
  assert not np.array_equal(noisy, ss.render(spec(index=1), 8000, fake))  # noise by index
  clean = ss.render(spec(snr_db=math.inf), 8000, fake)
  # The silences are trimmed: TONE_S at 8 kHz, to a 10 ms frame.
  assert abs(len(clean) - TONE_S * 8000) <= 80
  assert 20 * np.log10(np.abs(clean).max() / 32767) == pytest.approx(-10.0, abs=0.05)
  # The tone's pitch survives resampling to 8 kHz: the rate is right.
  spectrum = np.abs(np.fft.rfft(clean.astype(np.float64)))
  assert np.fft.rfftfreq(len(clean), 1 / 8000)[spectrum.argmax()] == pytest.approx(
      fake.hz('seven'), abs=3)
  noise = noisy.astype(np.float64) - clean
  snr = 10 * np.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean(noise ** 2))
  assert snr == pytest.approx(20.0, abs=0.5)
  for snr_db in (10.0, 35.0):
    noise = ss.render(spec(snr_db=snr_db), 8000, fake).astype(np.float64) - clean
    snr = 10 * np.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean(noise ** 2))
    assert snr == pytest.approx(snr_db, abs=0.5)


def test_speed_perturbation_shortens_and_raises_the_word():
  fake = FakeSynthesiser()
  fast = ss.render(spec(speed=1.1, snr_db=math.inf), 16000, fake)
  assert abs(len(fast) - TONE_S * 16000 / 1.1) <= 160
  spectrum = np.abs(np.fft.rfft(fast.astype(np.float64)))
  assert np.fft.rfftfreq(len(fast), 1 / 16000)[spectrum.argmax()] == pytest.approx(
      fake.hz('seven') * 1.1, abs=4)


def test_generate_twice_is_byte_identical_and_the_second_call_is_cached(tmp_path):
  args = dict(words=['one', 'two'], utterances_per_word=3, seed=5, validation_fraction=0.34)
  first = ss.generate(str(tmp_path / 'a'), **args, synthesiser=FakeSynthesiser())
  assert not first.cached and (first.utterances, first.train, first.validation) == (6, 4, 2)
  second = ss.generate(str(tmp_path / 'b'), **args, synthesiser=FakeSynthesiser())
  written = files_of(tmp_path / 'a')
  assert written == files_of(tmp_path / 'b')
  assert sorted(written) == ['manifest.json', 'one/0000.wav', 'one/0001.wav', 'one/0002.wav',
                             'transcripts.csv', 'two/0000.wav', 'two/0001.wav', 'two/0002.wav']
  lines = written['transcripts.csv'].decode().splitlines()
  assert lines[0] == 'audio,text,split' and lines[1].startswith('one/0000.wav,one,')
  assert sum(line.endswith(',validation') for line in lines) == 2
  again = ss.generate(str(tmp_path / 'a'), **args, synthesiser=FakeSynthesiser(broken=True))
  assert again.cached and dataclasses.replace(again, cached=False) == first
  assert files_of(tmp_path / 'a') == written
  assert second == dataclasses.replace(first, directory=str(tmp_path / 'b'))


def test_a_directory_of_other_arguments_or_other_files_is_refused(tmp_path):
  directory = str(tmp_path / 'synth')
  ss.generate(directory, ['one'], 2, seed=0, synthesiser=FakeSynthesiser())
  before = files_of(directory)
  with pytest.raises(errors.DataError, match=r'other arguments \(utterances_per_word 2 there, '
                                             r'3 asked\)'):
    ss.generate(directory, ['one'], 3, seed=0, synthesiser=FakeSynthesiser())
  with pytest.raises(errors.DataError, match='seed 0 there, 1 asked'):
    ss.generate(directory, ['one'], 2, seed=1, synthesiser=FakeSynthesiser())
  assert files_of(directory) == before
  (tmp_path / 'mine').mkdir()
  (tmp_path / 'mine' / 'notes.txt').write_text('mine')
  with pytest.raises(errors.DataError, match='no manifest.json'):
    ss.generate(str(tmp_path / 'mine'), ['one'], 2, seed=0, synthesiser=FakeSynthesiser())


def test_an_unfinished_directory_is_completed_and_workers_write_the_same(tmp_path):
  args = dict(words=['one', 'two'], utterances_per_word=2, seed=1)
  ss.generate(str(tmp_path / 'one'), **args, synthesiser=FakeSynthesiser())
  whole = files_of(tmp_path / 'one')
  ss.generate(str(tmp_path / 'two'), **args, workers=2, synthesiser=FakeSynthesiser())
  assert files_of(tmp_path / 'two') == whole
  # Killed after two files: the rest is rendered, the manifest completed.
  os.remove(tmp_path / 'two' / 'transcripts.csv')
  os.remove(tmp_path / 'two' / 'two' / '0001.wav')
  manifest = (tmp_path / 'two' / 'manifest.json')
  manifest.write_text(manifest.read_text().replace('"complete": true', '"complete": false'))
  again = ss.generate(str(tmp_path / 'two'), **args, synthesiser=FakeSynthesiser())
  assert not again.cached and files_of(tmp_path / 'two') == whole


def test_missing_synthesisers_name_the_apt_command(tmp_path, monkeypatch):
  monkeypatch.setenv('PATH', str(tmp_path))
  with pytest.raises(ss.SynthesiserNotFoundError, match='sudo apt-get install espeak-ng flite'):
    ss.generate(str(tmp_path / 'synth'), ['one'], 1, seed=0)
  assert not (tmp_path / 'synth').exists()
  assert issubclass(ss.SynthesiserNotFoundError, errors.DataNotFoundError)


def test_the_launcher_reports_a_bad_word_list_in_one_line(tmp_path):
  proc = subprocess.run(
      [sys.executable, '-m', 'launch.synthesize_speech', f'--dir={tmp_path}/s', '--words=numbers'],
      cwd=REPO_ROOT, env=subprocess_env(), capture_output=True, text=True, timeout=120)
  assert proc.returncode == 2 and proc.stderr.count('\n') == 1, proc.stderr
  assert proc.stderr.startswith('error: word lists numbers:')


def test_the_installed_espeak_ng_and_flite(tmp_path):
  if not (shutil.which('espeak-ng') and shutil.which('flite')):
    pytest.skip('espeak-ng and flite are not installed: sudo apt-get install espeak-ng flite')
  import soundfile as sf

  # What they are given to say, read back as phonemes: "A" is the letter's
  # name, not the article; "x-ray" is one word, not spelled out.
  def phonemes(*command):
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.split()
  assert phonemes('espeak-ng', '-q', '-x', '-v', 'en-us', ss.spoken_text('a')) == ["'eI"]
  assert phonemes('flite', '-t', ss.spoken_text('a'), '-ps', '-o', 'none') == ['pau', 'ey', 'pau']
  assert phonemes('flite', '-t', ss.spoken_text('xray'), '-ps', '-o', 'none') == [
      'pau', 'eh', 'k', 's', 'r', 'ey', 'pau']

  # Seed 2 draws both synthesisers for these four utterances.
  assert {u.synthesiser for u in ss.plan(['a', 'xray'], 2, seed=2)} == {'espeak-ng', 'flite'}
  made = ss.generate(str(tmp_path / 'synth'), ['a', 'xray'], 2, seed=2)
  assert made.utterances == 4 and 0.8 < made.audio_seconds < 8
  for word in ('a', 'xray'):
    for number in range(2):
      samples, rate = sf.read(tmp_path / 'synth' / word / f'{number:04d}.wav', dtype='int16')
      assert rate == 8000 and samples.ndim == 1 and 0.15 < len(samples) / rate < 2.0
  manifest = (tmp_path / 'synth' / 'manifest.json').read_text()
  assert 'eSpeak NG' in manifest and 'flite-2' in manifest


# --- Phrases for the sentence recogniser --------------------------------------------------

CORPUS = """Press the pound key. It's 7 o'clock!
Thank you for calling; please hold while we connect you to the next available agent.
%
A cat and a dog. X marks the spot: go east.
Goodbye now?
"""


def test_phrases_are_drawn_deterministically_from_sentences_a_synthesiser_says_whole():
  phrases = ss.phrases_from_text(CORPUS, 5, seed=0, min_words=2, max_words=6)
  assert phrases == ss.phrases_from_text(CORPUS, 5, seed=0, min_words=2, max_words=6)
  assert len(set(phrases)) == 5
  for phrase in phrases:
    words = phrase.split()
    assert 2 <= len(words) <= 6 and phrase == phrase.lower()
    assert phrase in ' '.join(CORPUS.lower().replace(',', '').split())  # a window of the text
  # "7" (a number) and "x" (a lone letter) would be spelled: their sentences are left out.
  assert not any('clock' in p or 'marks' in p for p in phrases)
  with pytest.raises(errors.DataError, match='gives 6 distinct phrases'):
    ss.phrases_from_text(CORPUS, 50, seed=0, min_words=2, max_words=6)


def test_generate_with_sentences_writes_one_utterance_per_phrase_and_caches(tmp_path):
  phrases = ['press the pound key', 'goodbye now', 'a cat and a dog', 'please hold']
  made = ss.generate(str(tmp_path / 's'), [], 1, seed=2, validation_fraction=0.25,
                     sentences=phrases, synthesiser=FakeSynthesiser())
  assert (made.utterances, made.train, made.validation) == (4, 3, 1)
  lines = (tmp_path / 's' / 'transcripts.csv').read_text().splitlines()
  assert [line.rsplit(',', 1)[0] for line in lines[1:]] == [
      f'sentences/{i:04d}.wav,{p}' for i, p in enumerate(phrases)]
  assert ss.plan_sentences(phrases, 2) == ss.plan_sentences(phrases, 2)
  assert ss.spoken_text('a cat and a dog') == 'a cat and a dog'  # "a" the article, not "A"
  again = ss.generate(str(tmp_path / 's'), [], 1, seed=2, validation_fraction=0.25,
                      sentences=phrases, synthesiser=FakeSynthesiser(broken=True))
  assert again.cached
  with pytest.raises(errors.DataError, match='other arguments'):
    ss.generate(str(tmp_path / 's'), [], 1, seed=2, validation_fraction=0.25,
                sentences=phrases[:3], synthesiser=FakeSynthesiser())
