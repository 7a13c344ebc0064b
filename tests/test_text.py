"""The text_corpus builder, tokenisation, vocabulary and token streams."""

import os
import random

import ml_collections
import numpy as np
import pytest
import tensorflow_datasets as tfds

from research import errors
from research.data import registry
from research.data import lm_corpus as text_lib
from research.data.builders import text_corpus  # noqa: F401  (registers the builder)
from research.data.lm_corpus import EOS, UNK, Vocabulary, make_token_streams, tokenize

# Multi-byte characters, so character and byte offsets differ.
QUOTES_A = ('Ünïcödé is “fun” — said nobody.\n%\nA fortune cookie 🥠 a day\n'
            'keeps the doctor away.\n%\n') * 6
QUOTES_Z = 'Zeta: the last file.\n%\nLine two of zeta, naïve café.\n' * 5
STORY = 'A story kept elsewhere, linked in.\n' * 3


def write(path, content):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  mode = 'wb' if isinstance(content, bytes) else 'w'
  with open(path, mode, **({} if mode == 'wb' else {'encoding': 'utf-8', 'newline': ''})) as f:
    f.write(content)
  return path


def build(data_dir, manual_dir):
  builder = tfds.builder('text_corpus', data_dir=str(data_dir))
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=str(manual_dir)))
  return builder


def fortunes_like(directory, outside):
  """Debian-fortunes-like files: quotes between '%' lines, .dat indexes, .u8 links."""
  write(f'{directory}/zeta', QUOTES_Z)  # Written first: order must be by name.
  write(f'{directory}/alpha', QUOTES_A)
  # A fortune index; its bytes are not UTF-8, so reading it would fail the build.
  write(f'{directory}/alpha.dat', b'\x00\x00\x00\x02\x00\x00\x00\x06\xff\xfe\x80%\x00')
  os.symlink('alpha', f'{directory}/alpha.u8')
  os.symlink('zeta', f'{directory}/zeta.u8')
  write(f'{directory}/.hidden', 'hidden text must not be read\n')
  write(f'{directory}/off/rotated', 'a subdirectory is not read\n')
  # A symlink to a file outside the directory is a file of the corpus.
  write(f'{outside}/story', STORY)
  os.symlink(os.path.join(outside, 'story'), f'{directory}/mid')
  return '\n'.join([QUOTES_A, STORY, QUOTES_Z])  # alpha, mid, zeta


def dataset_config(name, data_dir, manual_dir=None):
  return ml_collections.ConfigDict(dict(
      name=name, data_dir=None if data_dir is None else str(data_dir), download=True,
      train_split='train',
      manual_dir=None if manual_dir is None else str(manual_dir)))


@pytest.fixture
def text_registry(monkeypatch):
  monkeypatch.setitem(registry.DATASETS, 'text_corpus', registry.DatasetSpec(
      tfds_name='text_corpus', builds_offline=True, needs_manual_dir=True,
      how_to_get='Pass a directory of text files.'))
  monkeypatch.setitem(registry.DATASETS, 'tiny_shakespeare', registry.DatasetSpec(
      tfds_name='tiny_shakespeare', how_to_get='tfds build tiny_shakespeare'))


# --- The builder ---------------------------------------------------------------

def test_ptb_layout_gives_the_three_files(tmp_path):
  texts = {'train': ' the cat sat \n on the mat \n',
           'validation': ' a dog ran \n',
           'test': ' the end \r\n with crlf and é \n'}
  names = {'train': 'ptb.train.txt', 'validation': 'ptb.valid.txt', 'test': 'ptb.test.txt'}
  for split, name in names.items():
    write(f'{tmp_path}/ptb/{name}', texts[split])
  write(f'{tmp_path}/ptb/README', 'not part of the corpus\n')
  builder = build(tmp_path / 'tfds', tmp_path / 'ptb')
  assert text_lib.read_text_splits(builder) == texts
  assert builder.info.splits['train'].num_examples == 1
  # The metadata survives a reload (load_text_splits compares it with manual_dir).
  reloaded = tfds.builder('text_corpus', data_dir=str(tmp_path / 'tfds'))
  assert reloaded.info.metadata['layout'] == 'ptb'
  assert [f[0] for f in reloaded.info.metadata['files']] == [
      'ptb.train.txt', 'ptb.valid.txt', 'ptb.test.txt']


def test_directory_layout_is_a_contiguous_90_5_5_split(tmp_path):
  expected = fortunes_like(tmp_path / 'fortunes', tmp_path / 'elsewhere')
  builder = build(tmp_path / 'tfds', tmp_path / 'fortunes')
  splits = text_lib.read_text_splits(builder)
  assert splits['train'] + splits['validation'] + splits['test'] == expected
  n = len(expected)  # characters, not bytes
  assert n != len(expected.encode('utf-8'))
  a = int(n * 0.9)  # tiny_shakespeare's arithmetic
  assert len(splits['train']) == a
  assert len(splits['validation']) == int((n - a) * 0.5)
  assert len(splits['test']) == n - a - int((n - a) * 0.5)
  assert min(len(s) for s in splits.values()) > 0
  assert 'hidden' not in expected and 'subdirectory' not in ''.join(splits.values())
  meta = builder.info.metadata
  assert meta['layout'] == 'single'
  assert meta['files'] == [['alpha', len(QUOTES_A.encode('utf-8'))],
                           ['mid', len(STORY.encode('utf-8'))],
                           ['zeta', len(QUOTES_Z.encode('utf-8'))]]
  assert meta['num_chars'] == {k: len(v) for k, v in splits.items()}


def test_split_sizes_known_answers():
  for n, sizes in ((1000, (900, 50, 50)), (1010, (909, 50, 51)), (1030, (927, 51, 52)),
                   (20, (18, 1, 1))):
    text = ''.join(chr(0x41 + i % 50) for i in range(n))
    splits = text_corpus.split_90_5_5(text)
    assert tuple(len(splits[k]) for k in ('train', 'validation', 'test')) == sizes
    assert splits['train'] + splits['validation'] + splits['test'] == text


def test_non_utf8_file_is_an_error_naming_file_and_offset(tmp_path):
  write(f'{tmp_path}/corpus/good', 'fine text\n' * 10)
  write(f'{tmp_path}/corpus/latin1', 'café au lait\n'.encode('latin-1'))
  with pytest.raises(ValueError, match=r'latin1: not valid UTF-8 at byte offset 3'):
    build(tmp_path / 'tfds', tmp_path / 'corpus')


def test_empty_corpus_is_an_error(tmp_path):
  write(f'{tmp_path}/blank/empty', '')
  write(f'{tmp_path}/blank/spaces', ' \n\t\n')
  write(f'{tmp_path}/blank/empty.dat', b'\x00\x01')
  with pytest.raises(ValueError, match='empty corpus.*hold no text'):
    build(tmp_path / 'tfds1', tmp_path / 'blank')
  write(f'{tmp_path}/only_dat/x.dat', b'\x00\x01')
  with pytest.raises(ValueError, match='empty corpus: no text files'):
    build(tmp_path / 'tfds2', tmp_path / 'only_dat')
  os.makedirs(tmp_path / 'nothing')
  with pytest.raises(ValueError, match='empty corpus: the manual directory does not exist or holds no files'):
    build(tmp_path / 'tfds3', tmp_path / 'nothing')
  write(f'{tmp_path}/tiny/t', 'abcdefghi')  # 9 characters: validation would be empty
  with pytest.raises(ValueError, match='too few for a 90/5/5 split.*validation'):
    build(tmp_path / 'tfds4', tmp_path / 'tiny')


def test_partial_or_ambiguous_ptb_layout_is_an_error(tmp_path):
  write(f'{tmp_path}/partial/ptb.train.txt', 'a b\n')
  write(f'{tmp_path}/partial/ptb.test.txt', 'a b\n')
  with pytest.raises(ValueError, match=r'0 files match \*\.valid\.txt'):
    build(tmp_path / 'tfds1', tmp_path / 'partial')
  for name in ('ptb.train.txt', 'ptb.char.train.txt', 'ptb.valid.txt', 'ptb.test.txt'):
    write(f'{tmp_path}/two/{name}', 'a b\n')
  with pytest.raises(ValueError, match=r'2 files match \*\.train\.txt \(ptb\.char\.train'):
    build(tmp_path / 'tfds2', tmp_path / 'two')
  for name, content in (('x.train.txt', 'a\n'), ('x.valid.txt', '\n'), ('x.test.txt', 'a\n')):
    write(f'{tmp_path}/emptyvalid/{name}', content)
  with pytest.raises(ValueError, match=r'x\.valid\.txt: the validation file .* is empty'):
    build(tmp_path / 'tfds3', tmp_path / 'emptyvalid')


def test_load_text_splits_through_the_registry(tmp_path, text_registry):
  del text_registry
  expected = fortunes_like(tmp_path / 'fortunes', tmp_path / 'elsewhere')
  os.makedirs(tmp_path / 'tfds')
  config = dataset_config('text_corpus', tmp_path / 'tfds', tmp_path / 'fortunes')
  splits = text_lib.load_text_splits(config)
  assert ''.join(splits[s] for s in text_lib.SPLITS) == expected
  # Another corpus under the same data_dir gets a prepared copy of its own.
  write(f'{tmp_path}/other/only', 'another corpus entirely\n' * 10)
  other = dataset_config('text_corpus', tmp_path / 'tfds', tmp_path / 'other')
  assert text_lib.load_text_splits(other)['train'].startswith('another corpus entirely')
  assert ''.join(text_lib.load_text_splits(config)[s] for s in text_lib.SPLITS) == expected
  # A prepared copy is not silently reused once its files changed: a file
  # added at the top of the folder gives it a new prepared copy.
  write(f'{tmp_path}/fortunes/zz_added', 'a new file\n')
  assert 'a new file' in ''.join(text_lib.load_text_splits(config).values())
  # Build errors reach the user as DataNotFoundError naming the file.
  write(f'{tmp_path}/bad/x', b'ok\xc3(')
  config = dataset_config('text_corpus', tmp_path / 'tfds', tmp_path / 'bad')
  config.data_dir = str(tmp_path / 'tfds_bad')
  os.makedirs(config.data_dir)
  with pytest.raises(errors.DataNotFoundError, match=r'x: not valid UTF-8 at byte offset 2'):
    text_lib.load_text_splits(config)


def test_tiny_shakespeare_format_under_mock_data(text_registry):
  del text_registry
  with tfds.testing.mock_data(num_examples=1):
    splits = text_lib.load_text_splits(dataset_config('tiny_shakespeare', None))
  assert set(splits) == set(text_lib.SPLITS)
  assert all(isinstance(t, str) and t for t in splits.values())
  vocab, streams = make_token_streams(splits, 'char')
  assert all(s.dtype == np.int32 and len(s) == len(splits[k]) for k, s in streams.items())
  assert len(vocab) >= 2


# --- Tokens and vocabulary ------------------------------------------------------

def test_tokenize_known_answers():
  assert tokenize('ab\nç ', 'char') == ['a', 'b', '\n', 'ç', ' ']
  assert tokenize(' the cat \n sat\n\non  mat', 'word') == [
      'the', 'cat', EOS, 'sat', EOS, EOS, 'on', 'mat']
  assert tokenize('a b\n', 'word') == ['a', 'b', EOS]
  assert tokenize('a\r\nb\tc', 'word') == ['a', EOS, 'b', 'c']
  assert tokenize('', 'word') == [] and tokenize('', 'char') == []
  with pytest.raises(errors.ConfigError, match='char'):
    tokenize('x', 'byte')


def test_vocabulary_is_built_from_train_only():
  splits = {'train': 'bbbaac\n', 'validation': 'abz', 'test': 'cz\n'}
  vocab, streams = make_token_streams(splits, 'char')
  assert vocab.tokens == (UNK, 'b', 'a', '\n', 'c')  # ties ('\n', 'c') by code point
  assert vocab.counts == (0, 3, 2, 1, 1) and vocab.level == 'char'
  assert 'z' not in vocab
  np.testing.assert_array_equal(streams['validation'], [2, 1, vocab.unk_id])
  np.testing.assert_array_equal(streams['test'], [4, vocab.unk_id, 3])
  assert streams['train'].dtype == np.int32
  assert vocab.oov_rate(streams['validation']) == pytest.approx(1 / 3)
  assert vocab.oov_rate(streams['train']) == 0.0
  words, wstreams = make_token_streams(
      {'train': 'the cat\nthe dog\n', 'validation': 'the emu\n'}, 'word')
  assert words.tokens == (UNK, EOS, 'the', 'cat', 'dog')
  assert words.decode(wstreams['validation']) == ['the', UNK, EOS]


def test_vocabulary_order_is_deterministic_and_limits_apply():
  tokens = list('aaaabbbccd') + ['<unk>']  # a literal <unk> (as in PTB) counts, once
  shuffled = tokens[:]
  random.Random(0).shuffle(shuffled)
  full = Vocabulary.build(tokens)
  assert Vocabulary.build(shuffled) == full
  assert full.tokens == (UNK, 'a', 'b', 'c', 'd') and full.counts == (1, 4, 3, 2, 1)
  assert Vocabulary.build(tokens, max_size=3).tokens == (UNK, 'a', 'b')  # specials included
  assert Vocabulary.build(tokens, min_count=2).tokens == (UNK, 'a', 'b', 'c')
  assert Vocabulary.build(tokens, min_count=3, max_size=10).tokens == (UNK, 'a', 'b')
  capped = Vocabulary.build(tokens, max_size=3)
  np.testing.assert_array_equal(capped.encode(list('dcab')), [0, 0, 1, 2])
  assert Vocabulary.build(tokens, specials=('<pad>', UNK)).tokens[:2] == ('<pad>', UNK)
  with pytest.raises(errors.ConfigError, match='max_size'):
    Vocabulary.build(tokens, max_size=0)
  with pytest.raises(errors.ConfigError, match='min_count'):
    Vocabulary.build(tokens, min_count=0)


def test_encode_decode_round_trip(tmp_path):
  text = fortunes_like(tmp_path / 'f', tmp_path / 'e')
  for level in ('char', 'word'):
    tokens = tokenize(text, level)
    vocab = Vocabulary.build(tokens, level=level)
    ids = vocab.encode(tokens)
    assert ids.dtype == np.int32 and ids.shape == (len(tokens),)
    assert vocab.decode(ids) == tokens
    assert vocab.unk_id not in ids
  assert ''.join(Vocabulary.build(text).decode(Vocabulary.build(text).encode(text))) == text
  vocab = Vocabulary.build(['a', 'b'])
  with pytest.raises(ValueError, match=r'in \[0, 3\)'):
    vocab.decode([0, 3])
  with pytest.raises(ValueError, match=r'in \[0, 3\)'):
    vocab.decode([-1])
  no_unk = Vocabulary.build(['a', 'b'], specials=())
  with pytest.raises(ValueError, match="no '<unk>'.*'q'"):
    no_unk.encode(['a', 'q'])
  assert no_unk.oov_rate(no_unk.encode(['a'])) == 0.0


def test_vocabulary_json_round_trip_and_fingerprint(tmp_path):
  vocab, _ = make_token_streams({'train': 'naïve café ☕\nnaïve\n'}, 'word')
  path = str(tmp_path / 'vocab.json')
  vocab.save(path)
  with open(path, 'rb') as f:
    raw = f.read()
  assert 'naïve'.encode('utf-8') in raw  # real UTF-8, not \u escapes
  restored = Vocabulary.load(path)
  assert restored == vocab and restored.level == 'word' and len(restored) == len(vocab)
  assert restored.fingerprint() == vocab.fingerprint()
  assert Vocabulary.from_json(vocab.to_json()) == vocab
  # Same tokens, other counts: not equal, but ids mean the same tokens.
  recounted = Vocabulary(vocab.tokens, [c + 1 for c in vocab.counts], level='word')
  assert recounted != vocab and recounted.fingerprint() == vocab.fingerprint()
  # Another order or another token set changes the fingerprint.
  swapped = list(vocab.tokens)
  swapped[1], swapped[2] = swapped[2], swapped[1]
  assert Vocabulary(swapped, level='word').fingerprint() != vocab.fingerprint()
  assert Vocabulary.build(['x']).fingerprint() != vocab.fingerprint()
  write(str(tmp_path / 'bad.json'), '{"tokens": []}')
  with pytest.raises(ValueError, match='bad.json.*format'):
    Vocabulary.load(str(tmp_path / 'bad.json'))


def test_empty_split_is_an_error():
  with pytest.raises(errors.DataNotFoundError, match="'validation' split.*empty"):
    make_token_streams({'train': 'abc', 'validation': '', 'test': 'a'}, 'char')
  with pytest.raises(errors.DataNotFoundError, match="'test' split.*no word tokens"):
    make_token_streams({'train': 'abc', 'validation': 'a', 'test': '  \t'}, 'word')
  with pytest.raises(errors.DataNotFoundError, match='No train split'):
    make_token_streams({'validation': 'a'}, 'char')


def test_lm1b_sentences_are_joined_by_newlines():
  # (mock_data ignores split slices, so the halved test split is not checked here.)
  config = dataset_config('lm1b', None)
  with tfds.testing.mock_data(num_examples=6):
    splits = text_lib.load_text_splits(config)
  assert set(splits) == set(text_lib.SPLITS)
  assert splits['train'].count('\n') == 5  # six mocked sentences
  assert all(splits[s] for s in text_lib.SPLITS)
