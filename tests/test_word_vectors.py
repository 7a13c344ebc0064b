"""Pre-trained word vectors: format detection, lookup, OOV init, errors, streaming."""

import gzip
import re

import numpy as np
import pytest

from research import errors
from research.data import word_vectors as wv
from research.data.word_vectors import PAD, detect_format, load_word_vectors

# 6 words x 4 dims of known values; 'café' and 'naïve' are multi-byte in UTF-8,
# 'Apple' / 'apple' differ only in case.
WORDS = ['the', 'café', 'Apple', 'apple', 'dog', 'naïve']
VECTORS = ((np.arange(24, dtype=np.float32).reshape(6, 4) - 11.5) / 10).astype(np.float32)
VEC = dict(zip(WORDS, VECTORS))

CASES = [  # (format, file name)
    ('word2vec_binary', 'vectors.bin'),
    ('word2vec_text', 'vectors.txt'),
    ('glove_text', 'glove.txt'),
    ('word2vec_binary', 'vectors.bin.gz'),
    ('word2vec_text', 'vectors.txt.gz'),
    ('glove_text', 'glove.txt.gz'),
]


def write(path, fmt, words=WORDS, vectors=VECTORS):
  if fmt == 'glove_text':
    wv.write_glove(path, words, vectors)
  else:
    wv.write_word2vec(path, words, vectors, binary=fmt == 'word2vec_binary')
  return str(path)


def write_bytes(path, content: bytes):
  path.write_bytes(content)
  return str(path)


def raises(exc, path, *parts):
  """pytest.raises whose message must name `path`, then contain `parts` in order."""
  return pytest.raises(exc, match=re.escape(str(path)) + '.*' + '.*'.join(parts))


@pytest.fixture(params=CASES, ids=[name for _, name in CASES])
def case(request, tmp_path):
  fmt, name = request.param
  return fmt, write(tmp_path / name, fmt)


def test_detect_format(case):
  fmt, path = case
  assert detect_format(path) == fmt


def test_gz_files_are_gzipped(tmp_path):
  path = write(tmp_path / 'v.bin.gz', 'word2vec_binary')
  with open(path, 'rb') as f:
    assert f.read(2) == b'\x1f\x8b'
  with gzip.open(path, 'rb') as f:
    assert f.readline() == b'6 4\n'


def test_found_words_get_their_exact_vectors(case):
  fmt, path = case
  vocab = [PAD, 'the', 'café', 'unseen', 'naïve', 'dog']
  for given in (None, fmt):
    matrix, found = load_word_vectors(path, vocab, 4, fmt=given)
    assert matrix.dtype == np.float32 and matrix.shape == (6, 4)
    assert found == 4
    for i, word in enumerate(vocab):
      if word in VEC:
        np.testing.assert_array_equal(matrix[i], VEC[word])
    np.testing.assert_array_equal(matrix[0], np.zeros(4))
    assert np.all(np.abs(matrix[3]) <= 0.25) and np.any(matrix[3] != 0)


def test_exact_match_first_then_lowercase(case):
  _, path = case
  vocab = ['Apple', 'apple', 'APPLE', 'Dog', 'The', 'CAFÉ', 'Naïve', 'DOG!']
  matrix, found = load_word_vectors(path, vocab, 4)
  expected = {'Apple': 'Apple', 'apple': 'apple', 'APPLE': 'apple', 'Dog': 'dog',
              'The': 'the', 'CAFÉ': 'café', 'Naïve': 'naïve'}
  for i, word in enumerate(vocab):
    if word in expected:
      np.testing.assert_array_equal(matrix[i], VEC[expected[word]], err_msg=word)
  assert found == len(expected)


def test_no_fallback_from_lowercase_to_other_cases(tmp_path):
  path = write(tmp_path / 'v.txt', 'glove_text', ['Paris', 'dog'], VECTORS[:2])
  matrix, found = load_word_vectors(path, ['paris', 'Paris'], 4)
  assert found == 1
  np.testing.assert_array_equal(matrix[1], VECTORS[0])
  assert not np.array_equal(matrix[0], VECTORS[0])


def test_oov_rows_are_uniform_and_seeded(case):
  _, path = case
  vocab = [PAD] + [f'oov{i}' for i in range(200)] + ['dog']
  a, found = load_word_vectors(path, vocab, 4, seed=3)
  b, _ = load_word_vectors(path, vocab, 4, seed=3)
  c, _ = load_word_vectors(path, vocab, 4, seed=4)
  assert found == 1
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a[1:-1], c[1:-1])
  oov = a[1:-1]
  assert oov.min() >= -0.25 and oov.max() <= 0.25
  assert oov.min() < -0.2 and oov.max() > 0.2  # Spread over the whole range.
  assert abs(oov.var() - 0.25 ** 2 / 3) < 0.005
  np.testing.assert_array_equal(a[-1], VEC['dog'])
  small, _ = load_word_vectors(path, vocab, 4, seed=3, oov_scale=0.01)
  assert np.abs(small[1:-1]).max() <= 0.01


def test_oov_row_does_not_depend_on_the_other_words(tmp_path):
  with_dog = write(tmp_path / 'a.txt', 'glove_text', ['the', 'dog'], VECTORS[:2])
  without = write(tmp_path / 'b.txt', 'glove_text', ['the', 'cat'], VECTORS[:2])
  vocab = ['dog', 'unseen']
  a, _ = load_word_vectors(with_dog, vocab, 4, seed=7)
  b, _ = load_word_vectors(without, vocab, 4, seed=7)
  np.testing.assert_array_equal(a[1], b[1])


def test_pad_row_is_zero_even_if_the_file_has_it(tmp_path):
  path = write(tmp_path / 'v.bin', 'word2vec_binary', [PAD, 'dog'], VECTORS[:2])
  matrix, found = load_word_vectors(path, [PAD, 'dog', 'cat'], 4)
  np.testing.assert_array_equal(matrix[0], np.zeros(4))
  np.testing.assert_array_equal(matrix[1], VECTORS[1])
  assert found == 1
  # '[PAD]' anywhere but index 0 is an ordinary word.
  matrix, found = load_word_vectors(path, ['dog', PAD], 4)
  np.testing.assert_array_equal(matrix[1], VECTORS[0])
  assert found == 2


def test_empty_vocabulary(case):
  _, path = case
  matrix, found = load_word_vectors(path, [], 4)
  assert matrix.shape == (0, 4) and found == 0


@pytest.mark.parametrize('fmt', ['word2vec_binary', 'word2vec_text', 'glove_text'])
def test_a_word_far_down_the_file_is_found(tmp_path, fmt, monkeypatch):
  # Tiny chunks: binary words and vectors straddle chunk boundaries.
  monkeypatch.setattr(wv, '_CHUNK_BYTES', 7)
  n = 3000
  words = [f'w{i}' for i in range(n - 1)] + ['needle']
  vectors = np.zeros((n, 4), np.float32)
  vectors[-1] = [1.5, -2.25, 3.0, 0.125]
  path = write(tmp_path / 'big', fmt, words, vectors)
  matrix, found = load_word_vectors(path, [PAD, 'needle', 'haystack'], 4)
  assert found == 1
  np.testing.assert_array_equal(matrix[1], vectors[-1])


@pytest.mark.parametrize('name', ['big.bin', 'big.bin.gz'])
def test_2000_word_binary_round_trips_exactly(tmp_path, name):
  rng = np.random.default_rng(0)
  n, dim = 2000, 16
  words = [f'wörd{i}' for i in range(n)]
  vectors = rng.normal(size=(n, dim)).astype(np.float32)
  vectors[0] = [1e-38, -3e38, 0.0, -0.0] * 4  # Extremes, and bytes like 0x00.
  vectors[1] = np.frombuffer(b'\n \n ' * dim, '<f4')  # Newline and space bytes.
  path = write(tmp_path / name, 'word2vec_binary', words, vectors)
  assert detect_format(path) == 'word2vec_binary'
  matrix, found = load_word_vectors(path, words, dim)
  assert found == n
  assert matrix.tobytes() == vectors.tobytes()


@pytest.mark.parametrize('fmt', ['word2vec_text', 'glove_text'])
def test_text_round_trips_exactly(tmp_path, fmt):
  rng = np.random.default_rng(1)
  words = [f'w{i}' for i in range(300)]
  vectors = (rng.normal(size=(300, 8)) * 10.0 ** rng.integers(-30, 30, size=(300, 1)))
  vectors = vectors.astype(np.float32)
  path = write(tmp_path / 'v.txt', fmt, words, vectors)
  matrix, found = load_word_vectors(path, words, 8)
  assert found == 300 and matrix.tobytes() == vectors.tobytes()


def test_binary_without_newlines_between_entries(tmp_path):
  # gensim's layout: no newline after each vector.
  body = b''.join(w.encode() + b' ' + v.astype('<f4').tobytes() for w, v in zip(WORDS, VECTORS))
  path = write_bytes(tmp_path / 'g.bin', b'6 4\n' + body)
  assert detect_format(path) == 'word2vec_binary'
  matrix, found = load_word_vectors(path, WORDS, 4)
  assert found == 6 and matrix.tobytes() == VECTORS.tobytes()


def test_binary_words_that_are_not_utf8_are_replaced(tmp_path):
  body = (b'caf\xe9 ' + VECTORS[0].tobytes() + b'\n' + b'dog ' + VECTORS[1].tobytes() + b'\n')
  path = write_bytes(tmp_path / 'latin1.bin', b'2 4\n' + body)
  matrix, found = load_word_vectors(path, ['caf\ufffd', 'dog'], 4)
  assert found == 2 and matrix.tobytes() == VECTORS[:2].tobytes()


def test_text_details(tmp_path):
  # word2vec.c's text layout (a trailing space), CRLF line ends, a BOM, a blank
  # line, a repeated word (the first counts) and GloVe 840B's multi-word entries.
  path = write_bytes(tmp_path / 'v.txt', (
      '\ufeff4 3\r\n'
      'the 1 2 3 \r\n'
      '\r\n'
      '. . . 4 5 6\r\n'
      'at name@domain.com 7 8 9\r\n'
      'the 0 0 0\r\n').encode('utf-8'))
  assert detect_format(path) == 'word2vec_text'
  matrix, found = load_word_vectors(path, ['the', '. . .', 'at name@domain.com'], 3)
  assert found == 3
  np.testing.assert_array_equal(matrix, [[1, 2, 3], [4, 5, 6], [7, 8, 9]])
  glove = write_bytes(tmp_path / 'g.txt', b'. . . 4 5 6\n2000 1 2 3\n')
  assert detect_format(glove) == 'glove_text'
  matrix, found = load_word_vectors(glove, ['. . .', '2000'], 3)
  np.testing.assert_array_equal(matrix, [[4, 5, 6], [1, 2, 3]])


def test_writers_reject_what_cannot_be_read_back(tmp_path):
  with pytest.raises(ValueError, match='whitespace'):
    wv.write_word2vec(tmp_path / 'a', ['two words'], np.zeros((1, 4)), binary=True)
  with pytest.raises(ValueError, match='shape'):
    wv.write_glove(tmp_path / 'a', ['a', 'b'], np.zeros((3, 4)))
  with pytest.raises(ValueError, match='at least 2 dimensions'):
    wv.write_glove(tmp_path / 'a', ['a'], np.zeros((1, 1)))
  with pytest.raises(ValueError, match='finite'):
    wv.write_word2vec(tmp_path / 'a', ['a'], [[np.nan, 1.0]], binary=False)


# --------------------------------------------------------------------------- errors


def test_errors_are_user_errors_of_one_line(tmp_path):
  path = write_bytes(tmp_path / 'bad.txt', b'6 four\n')
  with pytest.raises(errors.UserError) as info:
    load_word_vectors(path, ['a'], 4)
  assert isinstance(info.value, wv.WordVectorsFormatError)
  assert '\n' not in str(info.value)


@pytest.mark.parametrize('fmt,name', CASES[:3])
def test_dimension_mismatch(tmp_path, fmt, name):
  path = write(tmp_path / name, fmt)
  with raises(errors.ConfigError, path, re.escape(
      "has 4-dimensional vectors, the model's embedding is 300; set model.embed_dim=4 "
      'or use another file')):
    load_word_vectors(path, ['the'], 300)


def test_missing_file(tmp_path):
  path = tmp_path / 'nowhere' / 'vectors.bin'
  with pytest.raises(errors.ConfigError, match='not found.*' + re.escape(str(path))):
    detect_format(path)
  with pytest.raises(errors.ConfigError, match=re.escape(str(path))):
    load_word_vectors(path, ['the'], 4, fmt='word2vec_binary')
  with pytest.raises(errors.ConfigError, match='directory'):
    load_word_vectors(tmp_path, ['the'], 4)


@pytest.mark.parametrize('name', ['empty.txt', 'empty.txt.gz'])
def test_empty_file(tmp_path, name):
  path = tmp_path / name
  if name.endswith('.gz'):
    with gzip.open(path, 'wb'):
      pass
  else:
    path.write_bytes(b'')
  for call in (lambda: detect_format(path), lambda: load_word_vectors(path, ['a'], 4),
               lambda: load_word_vectors(path, ['a'], 4, fmt='word2vec_binary')):
    with raises(wv.WordVectorsFormatError, path, 'is empty'):
      call()


@pytest.mark.parametrize('header', [b'six four\n', b'6 4.0\n', b'6 -4\n', b'-1 4\n'])
def test_header_that_is_not_two_integers(tmp_path, header):
  path = write_bytes(tmp_path / 'bad.bin', header + b'the ' + VECTORS[0].tobytes())
  for fmt in (None, 'word2vec_binary', 'word2vec_text'):
    with raises(wv.WordVectorsFormatError, path, 'line 1', 'COUNT DIM'):
      load_word_vectors(path, ['the'], 4, fmt=fmt)


def test_first_line_with_one_field(tmp_path):
  path = write_bytes(tmp_path / 'bad.txt', b'hello\nthe 1 2\n')
  with raises(wv.WordVectorsFormatError, path, 'line 1', 'single field'):
    detect_format(path)


def test_wrong_format_given(tmp_path):
  glove = write(tmp_path / 'g.txt', 'glove_text')
  w2v = write(tmp_path / 'w.txt', 'word2vec_text')
  with raises(wv.WordVectorsFormatError, glove, 'line 1', 'COUNT DIM', '5 fields'):
    load_word_vectors(glove, ['the'], 4, fmt='word2vec_binary')
  with raises(wv.WordVectorsFormatError, w2v, 'line 1 looks like a word2vec header'):
    load_word_vectors(w2v, ['the'], 4, fmt='glove_text')
  with pytest.raises(errors.ConfigError, match='format must be one of'):
    load_word_vectors(w2v, ['the'], 4, fmt='fasttext')
  with pytest.raises(errors.ConfigError, match='dim must be >= 1'):
    load_word_vectors(w2v, ['the'], 0)
  with pytest.raises(errors.ConfigError, match='oov_scale'):
    load_word_vectors(w2v, ['the'], 4, oov_scale=-1)


@pytest.mark.parametrize('fmt,lineno', [('word2vec_text', 4), ('glove_text', 3)])
@pytest.mark.parametrize('values', ['1 2 3', '1 2 3 4 5'])
def test_line_with_wrong_number_of_values(tmp_path, fmt, lineno, values):
  path = write(tmp_path / 'v.txt', fmt)
  lines = open(path, encoding='utf-8').read().splitlines(keepends=True)
  lines[lineno - 1] = f'dog {values}\n'
  write_bytes(tmp_path / 'v.txt', ''.join(lines).encode('utf-8'))
  got = len(values.split())
  # Found or not, every line's count is checked.
  for vocab in (['dog'], ['cat']):
    with raises(wv.WordVectorsFormatError, path, f'line {lineno}',
                f'expected a word and 4 values, got {got} values'):
      load_word_vectors(path, vocab, 4)


@pytest.mark.parametrize('fmt,lineno', [('word2vec_text', 3), ('glove_text', 2)])
def test_non_numeric_value(tmp_path, fmt, lineno):
  path = write_bytes(tmp_path / 'v.txt', (('2 4\n' if fmt == 'word2vec_text' else '') +
                                          'the 1 2 3 4\ncafé 1 x2 3 4\n').encode('utf-8'))
  assert detect_format(path) == fmt
  with raises(wv.WordVectorsFormatError, path, f'line {lineno}', "'café'",
              "non-numeric value 'x2'"):
    load_word_vectors(path, ['café'], 4)


@pytest.mark.parametrize('value', ['nan', 'inf', '1e39'])
def test_non_finite_value(tmp_path, value):
  path = write_bytes(tmp_path / 'g.txt', f'the 1 2 3 4\ndog 1 {value} 3 4\n'.encode())
  with raises(wv.WordVectorsFormatError, path, 'line 2', 'non-finite'):
    load_word_vectors(path, ['dog'], 4)
  bad = VECTORS[:2].copy()
  bad[1, 2] = np.inf
  binary = write_bytes(tmp_path / 'v.bin', b'2 4\n' + b''.join(
      w.encode() + b' ' + v.tobytes() for w, v in zip(['the', 'dog'], bad)))
  with raises(wv.WordVectorsFormatError, binary, 'entry 2', 'non-finite'):
    load_word_vectors(binary, ['dog'], 4)


@pytest.mark.parametrize('cut,parts', [
    (10, ["entry 6 of 6 \\('naïve'\\) is truncated", 'needs 16 bytes', 'ends after 7']),
    (22, ['entry 6 of 6 is truncated', 'inside its word']),
    (24 + 21, ['truncated', 'header says 6 entries', 'ends after entry 4']),
])
def test_truncated_binary(tmp_path, cut, parts):
  path = write(tmp_path / 'v.bin', 'word2vec_binary')
  data = open(path, 'rb').read()
  # The last entry is 'naïve' (6 bytes) + ' ' + 16 + '\n'; 'dog' takes 3 + 1 + 16 + 1.
  write_bytes(tmp_path / 'v.bin', data[:-cut])
  assert detect_format(path) == 'word2vec_binary'
  with raises(wv.WordVectorsFormatError, path, *parts):
    load_word_vectors(path, ['the'], 4)


def test_truncated_gzip(tmp_path):
  path = write(tmp_path / 'v.bin.gz', 'word2vec_binary')
  data = open(path, 'rb').read()
  write_bytes(tmp_path / 'v.bin.gz', data[:len(data) // 2])
  with raises(wv.WordVectorsFormatError, path, 'gzip'):
    load_word_vectors(path, ['the'], 4)


def test_count_in_header_differs_from_entries(tmp_path):
  text = write(tmp_path / 'v.txt', 'word2vec_text')
  body = open(text, 'rb').read().split(b'\n', 1)[1]
  write_bytes(tmp_path / 'v.txt', b'7 4\n' + body)
  with raises(wv.WordVectorsFormatError, text, 'truncated', 'header says 7 entries',
              'has 6'):
    load_word_vectors(text, ['the'], 4)
  write_bytes(tmp_path / 'v.txt', b'5 4\n' + body)
  with raises(wv.WordVectorsFormatError, text, 'line 7 is entry 6', 'says the file has 5'):
    load_word_vectors(text, ['the'], 4)
  binary = write(tmp_path / 'v.bin', 'word2vec_binary')
  body = open(binary, 'rb').read().split(b'\n', 1)[1]
  write_bytes(tmp_path / 'v.bin', b'5 4\n' + body)
  with raises(wv.WordVectorsFormatError, binary, 'more data follows entry 5'):
    load_word_vectors(binary, ['the'], 4)
