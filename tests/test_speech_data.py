"""Speech offline: the audio_folder TFDS builder on tiny generated WAV and FLAC
files (a user's transcripts.csv / transcripts.json, LibriSpeech's
*.trans.txt), and the errors that name the file to fix."""

from __future__ import annotations

import json

import numpy as np
import pytest

from research import errors
from research.data.builders import audio_folder, caption_folder
from testlib import build_local_splits

RATE = 8000


def tone(hz=440.0, seconds=0.1, rate=RATE):
  t = np.arange(int(seconds * rate)) / rate
  return (8000 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def save(path, samples, rate=RATE, subtype='PCM_16'):
  import soundfile as sf
  path.parent.mkdir(parents=True, exist_ok=True)
  sf.write(str(path), samples, rate, subtype=subtype)
  return path


def build(directory, tmp_path):
  return build_local_splits('audio_folder', directory, tmp_path)


def test_a_user_csv_gives_samples_rate_text_and_its_own_split(tmp_path):
  speech = tmp_path / 'mine'
  sounds = {'a.wav': tone(440), 'sub/b.wav': tone(660, rate=16000), 'c.wav': tone(220, 0.05)}
  save(speech / 'a.wav', sounds['a.wav'])
  save(speech / 'sub/b.wav', sounds['sub/b.wav'], rate=16000)
  save(speech / 'c.wav', sounds['c.wav'])
  save(speech / 'unlisted.wav', tone(880))
  (speech / 'transcripts.csv').write_text(
      'audio,text,split\n'
      'a.wav,"Hello,   world ",train\n'
      'sub/b.wav,Two dogs.,test\n'
      './c.wav,A cat.,dev\n')
  splits = build(speech, tmp_path)
  assert sorted(splits) == ['test', 'train', 'validation']
  (a,), (b,), (c,) = splits['train'], splits['test'], splits['validation']
  assert a['audio/filename'] == b'a.wav' and a['text'] == b'Hello, world'  # spaces folded
  assert a['audio'].dtype == np.int16 and np.array_equal(a['audio'], sounds['a.wav'])
  assert a['sample_rate'] == RATE and b['sample_rate'] == 16000  # not resampled
  assert b['audio/filename'] == b'sub/b.wav' and np.array_equal(b['audio'], sounds['sub/b.wav'])
  assert c['text'] == b'A cat.' and len(c['audio']) == 400
  assert audio_folder.read_transcripts(str(speech)) == (
      {'a.wav': 'Hello, world', 'sub/b.wav': 'Two dogs.', 'c.wav': 'A cat.'},
      {'a.wav': 'train', 'sub/b.wav': 'test', 'c.wav': 'validation'})


def test_a_user_json_is_split_by_the_hash_of_each_path(tmp_path):
  speech = tmp_path / 'json'
  transcripts = {}
  for i in range(12):  # enough files for both hash splits
    save(speech / f'd{i % 2}/u{i}.wav', tone(200 + 50 * i))
    transcripts[f'd{i % 2}/u{i}.wav'] = [f'utterance {i}'] if i % 3 else f'utterance {i}'
  (speech / 'transcripts.json').write_text(json.dumps(transcripts))
  splits = build(speech, tmp_path)
  where = {e['audio/filename'].decode(): split for split, es in splits.items() for e in es}
  assert where == {name: caption_folder.hash_split(name) for name in transcripts}
  assert set(where.values()) == {'train', 'test'}
  texts = {e['audio/filename'].decode(): e['text'].decode() for es in splits.values() for e in es}
  assert texts['d1/u7.wav'] == 'utterance 7' and texts['d0/u6.wav'] == 'utterance 6'


def test_librispeech_trans_txt_files_name_the_flac_beside_them(tmp_path):
  speech = tmp_path / 'LibriSpeech'
  chapters = {'dev-clean/84/121123': ['84-121123-0000', '84-121123-0001'],
              'dev-clean/174/50561': ['174-50561-0000']}
  expected = {}
  for folder, utterances in chapters.items():
    lines = []
    for i, utterance in enumerate(utterances):
      save(speech / folder / f'{utterance}.flac', tone(300 + 100 * i, rate=16000), 16000)
      lines.append(f'{utterance} GO  DO YOU HEAR {i}')
      expected[f'{folder}/{utterance}.flac'] = f'GO DO YOU HEAR {i}'
    (speech / folder / f'{folder.replace("dev-clean/", "").replace("/", "-")}.trans.txt'
     ).write_text('\n'.join(lines) + '\n')
  assert audio_folder.read_transcripts(str(speech)) == (expected, {})
  splits = build(speech, tmp_path)
  examples = {e['audio/filename'].decode(): e for es in splits.values() for e in es}
  assert {n: e['text'].decode() for n, e in examples.items()} == expected
  first = examples['dev-clean/84/121123/84-121123-0001.flac']
  assert first['sample_rate'] == 16000 and np.array_equal(first['audio'], tone(400, rate=16000))
  assert list(splits) == ['validation']  # LibriSpeech's dev-* subsets


def test_librispeech_subset_folders_give_the_split():
  assert audio_folder.librispeech_split('train-clean-100/19/198/19-198-0001.flac') == 'train'
  assert audio_folder.librispeech_split('LibriSpeech/dev-other/1/2/1-2-3.flac') == 'validation'
  assert audio_folder.librispeech_split('test-clean/1/2/1-2-3.flac') == 'test'
  assert audio_folder.librispeech_split('digits/7.wav') is None
  assert audio_folder.librispeech_split('trainees/7.wav') is None


def test_float_and_24_bit_files_are_scaled_to_int16(tmp_path):
  # libsndfile alone reads a float file as int16 unscaled (0.5 -> 0).
  floats = np.array([0.5, -0.25, 1.5, -1.0], np.float32)
  path = save(tmp_path / 'f.wav', floats, subtype='FLOAT')
  samples, rate = audio_folder.read_audio(path.read_bytes(), str(path))
  assert rate == RATE and samples.tolist() == [16384, -8192, 32767, -32768]
  path = save(tmp_path / 'p24.flac', np.array([2**22, -2**22, 300], np.int32) << 8,
              subtype='PCM_24')
  assert audio_folder.read_audio(path.read_bytes(), str(path))[0].tolist() == [16384, -16384, 1]


@pytest.mark.parametrize('case, match', [
    ('no_file', 'no transcript file.*launch.get_data asterisk_sounds'),
    ('two_files', r'several transcript sources \(transcripts.csv, sub/x.trans.txt\)'),
    ('missing', r"transcripts.csv: names 1 audio file\(s\) that are not there .*"
                r"e.g. \['not_there.wav'\]"),
    ('empty', r"line 2, 'a.wav': an empty transcript"),
    ('not_audio', 'b.wav: not audio soundfile can read'),
    ('stereo', 'b.wav: 2 channels; audio_folder stores mono'),
    ('bad_header', 'must name the columns "audio" and "text"'),
    ('bad_split', "line 3: split 'training'; use one of train, validation, test"),
])
def test_unusable_audio_folders_name_the_file_and_the_fix(tmp_path, case, match):
  speech = tmp_path / case
  save(speech / 'a.wav', tone())
  rows = {'missing': 'a.wav,A tone.,train\nnot_there.wav,A cat.,test\n',
          'empty': 'a.wav,   ,train\n', 'bad_split': 'a.wav,A tone.,train\nb.wav,B.,training\n'}
  header = 'file,transcript\n' if case == 'bad_header' else 'audio,text,split\n'
  if case == 'not_audio':
    (speech / 'b.wav').write_text('not audio')
  elif case == 'stereo':
    save(speech / 'b.wav', np.stack([tone(), tone(880)], axis=1))
  else:
    save(speech / 'b.wav', tone(880))
  if case != 'no_file':
    (speech / 'transcripts.csv').write_text(
        header + rows.get(case, 'a.wav,A tone.,train\nb.wav,B tone.,test\n'))
  if case == 'two_files':
    (speech / 'sub').mkdir()
    (speech / 'sub/x.trans.txt').write_text('x hello\n')
  with pytest.raises(errors.DataNotFoundError, match=match):
    build(speech, tmp_path)


# --- launch.get_data asterisk_sounds, on two tiny generated .debs ---------------------------

def test_asterisk_sounds_writes_each_spoken_prompt_with_its_transcript_all_as_test(
    tmp_path, monkeypatch):
  import gzip
  import io

  from research.data import get
  from test_get_data import make_deb
  from testlib import sha256_of
  monkeypatch.setattr(get, 'ASTERISK_MIN_FILES', 3)

  def wav(hz):
    buffer = io.BytesIO()
    import soundfile as sf
    sf.write(buffer, tone(hz), RATE, format='WAV', subtype='PCM_16')
    return buffer.getvalue()
  sounds = {f'{get.ASTERISK_SOUNDS}digits/7.wav': wav(300), f'{get.ASTERISK_SOUNDS}letters/dot.wav':
            wav(400), f'{get.ASTERISK_SOUNDS}beep.wav': wav(1000),
            f'{get.ASTERISK_SOUNDS}vm-intro.wav': wav(500),
            f'{get.ASTERISK_SOUNDS}silence/1.wav': np.zeros(10, np.int16).tobytes()}
  transcripts = ('; Core Asterisk Sounds in English\n\ndigits/7: seven\nletters/dot: dot [.]\n'
                 'beep: [this is a simple beep tone]\nsilence/1: (1 second of silence)\n'
                 'vm-intro: Please leave your message. (simple tone sound plays)\n'
                 'not-in-the-package: Hello.\n')
  debs = [make_deb(tmp_path / 'asterisk-core-sounds-en-wav_1.6.1-1_all.deb', sounds),
          make_deb(tmp_path / 'asterisk-core-sounds-en_1.6.1-1_all.deb',
                   {get.ASTERISK_TRANSCRIPTS: gzip.compress(transcripts.encode())})]
  out = tmp_path / 'asterisk'
  written = get.get('asterisk_sounds', str(out), archive=debs,
                    expected_sha256=[sha256_of(d) for d in debs])
  assert sorted(written) == ['credits.json', 'digits/7.wav', 'letters/dot.wav',
                             'transcripts.csv', 'vm-intro.wav']
  texts, splits = audio_folder.read_transcripts(str(out))
  assert texts == {'digits/7.wav': 'seven', 'letters/dot.wav': 'dot',
                   'vm-intro.wav': 'Please leave your message.'}
  assert set(splits.values()) == {'test'}  # real speech is only ever tested on
  assert (out / 'digits/7.wav').read_bytes() == sounds[f'{get.ASTERISK_SOUNDS}digits/7.wav']


def test_a_source_folder_rewritten_in_place_is_prepared_again_not_read_back_stale(tmp_path):
  # Prepared data is kept per source folder; adding files and rewriting the
  # transcripts (as `launch.synthesize_speech` does for more utterances)
  # must give the new examples.
  import os
  import time
  folder = tmp_path / 'words'
  save(folder / 'a.wav', tone(300))
  (folder / 'transcripts.csv').write_text('audio,text,split\na.wav,one,train\n')
  assert len(build(folder, tmp_path)['train']) == 1
  save(folder / 'b.wav', tone(500))
  (folder / 'transcripts.csv').write_text('audio,text,split\na.wav,one,train\nb.wav,two,train\n')
  later = time.time() + 5  # a new modification time even on coarse clocks
  os.utime(folder / 'transcripts.csv', (later, later))
  assert len(build(folder, tmp_path)['train']) == 2
