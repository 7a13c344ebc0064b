"""Pre-trained word vectors (word2vec, GloVe) for initialising an embedding layer.

Kim (2014)'s TextCNN starts its embedding from the 300-d word2vec GoogleNews
vectors (CNN-static keeps them fixed, CNN-non-static fine-tunes them). This
module reads such files into a `len(vocabulary) x dim` float32 matrix whose
row i is the vector of `vocabulary[i]`. Pure numpy: no TensorFlow or JAX.

Formats (`FORMATS`):
  * 'word2vec_binary': a header line "COUNT DIM", then COUNT entries, each the
    word's bytes up to a space, then DIM little-endian float32. Mikolov's
    word2vec.c writes a newline after each vector, gensim does not, so newline
    bytes before a word are skipped. Words are decoded as UTF-8 with
    errors='replace' (GoogleNews has a few words that are not valid UTF-8).
  * 'word2vec_text': the same header, then one line per entry: "word v1 ... vD".
  * 'glove_text': no header, every line is "word v1 ... vD"; the first line's
    number of values is the dimension.
  Text lines are UTF-8 (errors='replace'); a word may contain spaces (GloVe
  840B has a few, like '. . .'): a line with more than D+1 fields is one
  multi-word entry when the fields before its last D, after the first, are
  not numbers, and otherwise a wrong number of values. A file that starts with
  gzip's magic bytes (normally one named `.gz`) is decompressed on the fly, in
  every format.

Format detection (`detect_format`), from at most the first two lines:
  * Line 1 with exactly two fields is a word2vec header, which must be two
    integers. (So a one-dimensional GloVe file cannot be read; `write_glove`
    refuses to write one.) Any other line 1 with at least two fields is GloVe.
  * A word2vec file is 'word2vec_text' if the bytes after the header, up to the
    next newline (blank lines skipped), decode as strict UTF-8 and end in
    numbers (every field after the word is a number, or at least DIM trailing
    fields are); otherwise it is 'word2vec_binary'. Raw float32 bytes are
    practically never valid UTF-8 digits and spaces. A header with nothing
    after it is 'word2vec_text'. Pass `fmt=` to skip detection.

Lookup (`load_word_vectors`): a vocabulary word takes the file's vector of the
same word; if the file has no such word, the vector of its lowercase form (so a
cased vocabulary still uses uncased GloVe 6B: 'Paris' -> 'paris'; there is no
fallback in the other direction). When the file repeats a word, its first
entry counts. Words found in neither form are out-of-vocabulary (OOV) and get
U(-oov_scale, oov_scale) (Kim 2014 §3.1: unknown words are "initialized
randomly"; his code uses U[-0.25, 0.25], whose variance 0.25^2/3 ~ 0.021 is
about that of the GoogleNews vectors). The random rows come from one
`np.random.default_rng(seed)` draw of the whole matrix, so an OOV row depends
only on the seed and its index, not on which other words the file has. If
`vocabulary[0]` is the padding token '[PAD]', row 0 is all zeros: padded
positions then add nothing to a convolution over the sentence. It never counts
as found.

Streaming: the file is read once, front to back, and only the vectors of
vocabulary words (and their lowercase forms) are kept, so GoogleNews (3M words
x 300, 3.6 GB) never sits in memory. Every entry's shape is checked (number of
values per text line, bytes per binary entry, the header's count), but values
are converted only for the entries that are kept: a non-numeric or non-finite
value in a word the vocabulary does not need goes unnoticed.

Errors are one line naming the file: a missing file or a dimension that does
not match the model is `errors.ConfigError` (the fix is in the config); a
malformed file (empty, bad header, bad line, non-numeric or non-finite value,
truncated, extra data, corrupt gzip) is `WordVectorsFormatError`.
"""

from __future__ import annotations

import contextlib
import gzip
import operator
import os
import zlib
from typing import BinaryIO, Iterator, Sequence

import numpy as np

from research import errors, fileio

FORMATS = ('word2vec_binary', 'word2vec_text', 'glove_text')
PAD = '[PAD]'

_GZIP_MAGIC = b'\x1f\x8b'
_UTF8_BOM = b'\xef\xbb\xbf'
# Binary files are read in chunks of this size (tests shrink it to cross
# chunk boundaries inside words and vectors).
_CHUNK_BYTES = 1 << 20
# The longest line read while sniffing the format, and the longest binary word:
# beyond these the file is not what it claims to be.
_MAX_LINE_BYTES = 1 << 20
_MAX_WORD_BYTES = 1 << 16


class WordVectorsFormatError(errors.UserError):
  """A word-vector file is malformed: empty, bad header or line, bad value, truncated."""


# --------------------------------------------------------------------------- reading


def detect_format(path: str | os.PathLike) -> str:
  """'word2vec_binary', 'word2vec_text' or 'glove_text'; the rule is in the module doc."""
  path = os.fspath(path)
  with _reading(path) as f:
    fields = _first_line(f, path).decode('utf-8', 'replace').split()
    if len(fields) < 2:
      raise _one_field_error(path, fields)
    if len(fields) > 2:
      return 'glove_text'
    _, file_dim = _parse_header(fields, path)
    line = f.readline(_MAX_LINE_BYTES)
    while line and not line.strip():  # Blank lines between the header and entry 1.
      line = f.readline(_MAX_LINE_BYTES)
    if not line or _looks_like_text_entry(line, file_dim):
      return 'word2vec_text'
    return 'word2vec_binary'


def load_word_vectors(path: str | os.PathLike, vocabulary: Sequence[str], dim: int, *,
                      seed: int = 0, oov_scale: float = 0.25,
                      fmt: str | None = None) -> tuple[np.ndarray, int]:
  """(len(vocabulary) x dim float32 matrix, number of vocabulary words found in the file).

  Row i is the file's vector of `vocabulary[i]` (exact word, else its
  lowercase form), U(-oov_scale, oov_scale) from `default_rng(seed)` when the
  file has neither, and zeros for a '[PAD]' at index 0 (see the module doc).
  `fmt` (one of `FORMATS`) overrides `detect_format`.
  """
  path = os.fspath(path)
  try:
    dim = operator.index(dim)
  except TypeError:
    raise errors.ConfigError(f'Embedding dim must be an integer, got {dim!r}.') from None
  if dim < 1:
    raise errors.ConfigError(f'Embedding dim must be >= 1, got {dim}.')
  if not (np.isfinite(oov_scale) and oov_scale >= 0):
    raise errors.ConfigError(f'oov_scale must be a finite number >= 0, got {oov_scale!r}.')
  if fmt is not None and fmt not in FORMATS:
    raise errors.ConfigError(f'Word-vector format must be one of {FORMATS}, got {fmt!r}.')
  vocabulary = [str(w) for w in vocabulary]
  wanted = set(vocabulary) | {w.lower() for w in vocabulary}
  fmt = fmt or detect_format(path)
  if fmt == 'word2vec_binary':
    found = _read_binary(path, dim, wanted)
  else:
    found = _read_text(path, dim, wanted, header=fmt == 'word2vec_text')

  rng = np.random.default_rng(seed)
  matrix = rng.uniform(-oov_scale, oov_scale, size=(len(vocabulary), dim)).astype(np.float32)
  n_found = 0
  for i, word in enumerate(vocabulary):
    if i == 0 and word == PAD:
      matrix[0] = 0.0
      continue
    vector = found.get(word)
    if vector is None:
      vector = found.get(word.lower())
    if vector is not None:
      matrix[i] = vector
      n_found += 1
  return matrix, n_found


@contextlib.contextmanager
def _reading(path: str) -> Iterator[BinaryIO]:
  """The file's bytes, gunzipped if it starts with gzip's magic; gzip errors -> format errors."""
  if not fileio.exists(path):
    raise errors.ConfigError(f'Word-vector file not found: {path}')
  if fileio.isdir(path):
    raise errors.ConfigError(f'{path} is a directory, not a word-vector file.')
  try:
    with fileio.path(path).open('rb') as f:
      gz = f.read(2) == _GZIP_MAGIC
    raw = fileio.path(path).open('rb')
    f = gzip.GzipFile(fileobj=raw, mode='rb') if gz else raw
  except OSError as e:
    raise errors.ConfigError(f'Cannot read word-vector file {path}: {e.strerror or e}.') from e
  try:
    with raw, f:  # Closing a GzipFile leaves the file under it open.
      yield f
  except (EOFError, zlib.error, gzip.BadGzipFile) as e:
    if not gz:
      raise
    raise WordVectorsFormatError(
        f'{path}: corrupt or truncated gzip data ({e}); expected a complete .gz file.') from e


def _first_line(f: BinaryIO, path: str) -> bytes:
  line = f.readline(_MAX_LINE_BYTES)
  if line.startswith(_UTF8_BOM):
    line = line[len(_UTF8_BOM):]
  if not line:
    raise WordVectorsFormatError(
        f'{path} is empty; expected word vectors (word2vec or GloVe).')
  if len(line) >= _MAX_LINE_BYTES and not line.endswith(b'\n'):
    raise WordVectorsFormatError(
        f'{path}: line 1 is longer than {_MAX_LINE_BYTES} bytes; expected a word2vec '
        "header 'COUNT DIM' or a GloVe line 'word v1 ... vD'.")
  if not line.strip():
    raise WordVectorsFormatError(
        f"{path}: line 1 is blank; expected a word2vec header 'COUNT DIM' or a GloVe line "
        "'word v1 ... vD'.")
  return line


def _one_field_error(path: str, fields: list[str]) -> WordVectorsFormatError:
  return WordVectorsFormatError(
      f"{path}: line 1 has the single field {' '.join(fields)[:60]!r}; expected a word2vec "
      "header 'COUNT DIM' or a GloVe line 'word v1 ... vD'.")


def _parse_header(fields: list[str], path: str) -> tuple[int, int]:
  header = ' '.join(fields)[:60]
  try:
    count, file_dim = int(fields[0]), int(fields[1])
  except ValueError:
    raise WordVectorsFormatError(
        f"{path}: line 1: the word2vec header must be 'COUNT DIM' (two integers), "
        f'got {header!r}.') from None
  if count < 0 or file_dim < 1:
    raise WordVectorsFormatError(
        f"{path}: line 1: the word2vec header 'COUNT DIM' needs COUNT >= 0 and DIM >= 1, "
        f'got {header!r}.')
  return count, file_dim


def _read_header(f: BinaryIO, path: str) -> tuple[int, int]:
  fields = _first_line(f, path).decode('utf-8', 'replace').split()
  if len(fields) != 2:
    raise WordVectorsFormatError(
        f"{path}: line 1: expected the word2vec header 'COUNT DIM', got {len(fields)} fields "
        "(a GloVe file? it has no header).")
  return _parse_header(fields, path)


def _dim_error(path: str, file_dim: int, dim: int) -> errors.ConfigError:
  return errors.ConfigError(
      f"{path} has {file_dim}-dimensional vectors, the model's embedding is {dim}; "
      f'set model.embed_dim={file_dim} or use another file.')


def _is_number(field: str) -> bool:
  try:
    float(field)
  except ValueError:
    return False
  return True


def _looks_like_text_entry(line: bytes, dim: int) -> bool:
  """Whether the bytes after a word2vec header are a text entry (see the module doc)."""
  try:
    fields = line.decode('utf-8').split()
  except UnicodeDecodeError:
    return False
  if len(fields) < 2:
    return False
  trailing = 0
  for field in reversed(fields[1:]):
    if not _is_number(field):
      break
    trailing += 1
  return trailing == len(fields) - 1 or trailing >= dim


def _split_entry(fields: list[str], dim: int, path: str, lineno: int) -> tuple[str, list[str]]:
  """(word, value fields) of one text line; a word may contain spaces (module doc)."""
  if len(fields) == dim + 1:
    return fields[0], fields[1:]
  if len(fields) > dim + 1 and not any(_is_number(f) for f in fields[1:-dim]):
    return ' '.join(fields[:-dim]), fields[-dim:]
  raise WordVectorsFormatError(
      f'{path}: line {lineno}: expected a word and {dim} values, got {len(fields) - 1} values.')


def _parse_values(values: list[str], word: str, path: str, lineno: int) -> np.ndarray:
  try:
    vector = np.array(values, dtype=np.float64)
  except ValueError:
    bad = next(v for v in values if not _is_number(v))
    raise WordVectorsFormatError(
        f'{path}: line {lineno}: {word!r} has the non-numeric value {bad[:40]!r}; '
        f'expected {len(values)} numbers.') from None
  with np.errstate(over='ignore'):
    vector = vector.astype(np.float32)
  if not np.all(np.isfinite(vector)):
    raise WordVectorsFormatError(
        f'{path}: line {lineno}: {word!r} has a non-finite value (or one beyond float32); '
        'expected finite numbers.')
  return vector


def _read_text(path: str, dim: int, wanted: set[str], *, header: bool) -> dict[str, np.ndarray]:
  """Vectors of the `wanted` words in a word2vec text (`header`) or GloVe file."""
  found: dict[str, np.ndarray] = {}
  count = None
  entries = 0
  with _reading(path) as f:
    first = _first_line(f, path)
    lineno = 0
    lines = iter(f)
    raw = first
    while raw is not None:
      lineno += 1
      fields = raw.decode('utf-8', 'replace').split()
      raw = next(lines, None)
      if lineno == 1 and header:
        if len(fields) != 2:
          raise WordVectorsFormatError(
              f"{path}: line 1: expected the word2vec header 'COUNT DIM', got {len(fields)} "
              'fields (a GloVe file? it has no header).')
        count, file_dim = _parse_header(fields, path)
        if file_dim != dim:
          raise _dim_error(path, file_dim, dim)
        continue
      if lineno == 1:
        if len(fields) < 2:
          raise _one_field_error(path, fields)
        if len(fields) == 2 and all(_is_integer(x) for x in fields):
          raise WordVectorsFormatError(
              f"{path}: line 1 looks like a word2vec header 'COUNT DIM' ({' '.join(fields)!r}), "
              "but the format is 'glove_text'; expected 'word v1 ... vD'.")
        file_dim = len(fields) - 1
        if file_dim != dim and not (len(fields) > dim + 1
                                    and not any(_is_number(x) for x in fields[1:-dim])):
          raise _dim_error(path, file_dim, dim)
      if not fields:
        continue
      entries += 1
      if count is not None and entries > count:
        raise WordVectorsFormatError(
            f'{path}: line {lineno} is entry {entries}, but the header says the file has '
            f'{count} entries.')
      word, values = _split_entry(fields, dim, path, lineno)
      if word in wanted and word not in found:
        found[word] = _parse_values(values, word, path, lineno)
  if count is not None and entries < count:
    raise WordVectorsFormatError(
        f'{path}: truncated: the header says {count} entries but the file has {entries}.')
  return found


def _is_integer(field: str) -> bool:
  try:
    int(field)
  except ValueError:
    return False
  return True


def _read_binary(path: str, dim: int, wanted: set[str]) -> dict[str, np.ndarray]:
  """Vectors of the `wanted` words in a word2vec binary file, read in chunks."""
  found: dict[str, np.ndarray] = {}
  nbytes = 4 * dim
  with _reading(path) as f:
    count, file_dim = _read_header(f, path)
    if file_dim != dim:
      raise _dim_error(path, file_dim, dim)
    buf, pos, eof = b'', 0, False
    for entry in range(1, count + 1):
      # Make buf[pos:] hold one whole entry: newlines, word, space, vector.
      while True:
        while pos < len(buf) and buf[pos] == 0x0A:
          pos += 1
        space = buf.find(b' ', pos)
        if space >= 0 and space + 1 + nbytes <= len(buf):
          break
        if eof:
          raise _truncated_error(path, entry, count, buf, pos, space, dim)
        if space < 0 and len(buf) - pos > _MAX_WORD_BYTES:
          raise WordVectorsFormatError(
              f'{path}: entry {entry} of {count}: no space within {_MAX_WORD_BYTES} bytes; '
              f'expected a word, a space and {dim} float32 (not a word2vec binary file?).')
        more = f.read(_CHUNK_BYTES)
        buf, pos, eof = buf[pos:] + more, 0, not more
      word = buf[pos:space].decode('utf-8', 'replace')
      pos = space + 1 + nbytes
      if word in wanted and word not in found:
        vector = np.frombuffer(buf, dtype='<f4', count=dim, offset=space + 1).astype(np.float32)
        if not np.all(np.isfinite(vector)):
          raise WordVectorsFormatError(
              f'{path}: entry {entry} of {count} ({word!r}) has a non-finite value; '
              'expected finite float32.')
        found[word] = vector
    rest = buf[pos:]
    while not rest.strip():
      rest = f.read(_CHUNK_BYTES)
      if not rest:
        break
    if rest.strip():
      raise WordVectorsFormatError(
          f'{path}: the header says {count} entries, but more data follows entry {count}; '
          'expected the file to end there.')
  return found


def _truncated_error(path: str, entry: int, count: int, buf: bytes, pos: int, space: int,
                     dim: int) -> WordVectorsFormatError:
  if pos >= len(buf):
    return WordVectorsFormatError(
        f'{path}: truncated: the header says {count} entries but the file ends after '
        f'entry {entry - 1}.')
  if space < 0:
    return WordVectorsFormatError(
        f'{path}: entry {entry} of {count} is truncated: the file ends inside its word; '
        f'expected a word, a space and {dim} float32.')
  word = buf[pos:space].decode('utf-8', 'replace')
  return WordVectorsFormatError(
      f'{path}: entry {entry} of {count} ({word[:40]!r}) is truncated: its vector needs '
      f'{4 * dim} bytes ({dim} float32), the file ends after {len(buf) - space - 1}.')


# --------------------------------------------------------------------------- writing


def write_word2vec(path: str | os.PathLike, words: Sequence[str], vectors, *,
                   binary: bool) -> None:
  """Writes word2vec: header "COUNT DIM", then binary entries (word2vec.c layout,
  a newline after each vector) or text lines. `.gz` paths are gzipped."""
  words, vectors = _check_for_writing(words, vectors)
  with _writing(path) as f:
    f.write(f'{len(words)} {vectors.shape[1]}\n'.encode('ascii'))
    for word, vector in zip(words, vectors):
      if binary:
        f.write(word.encode('utf-8') + b' ' + vector.astype('<f4').tobytes() + b'\n')
      else:
        f.write(_text_line(word, vector))


def write_glove(path: str | os.PathLike, words: Sequence[str], vectors) -> None:
  """Writes GloVe text ("word v1 ... vD" lines, no header). `.gz` paths are gzipped."""
  words, vectors = _check_for_writing(words, vectors)
  if vectors.shape[1] < 2:
    # Line 1 would have two fields and read as a word2vec header.
    raise ValueError(f'GloVe files need at least 2 dimensions, got {vectors.shape[1]}.')
  with _writing(path) as f:
    for word, vector in zip(words, vectors):
      f.write(_text_line(word, vector))


def _check_for_writing(words, vectors) -> tuple[list[str], np.ndarray]:
  words = [str(w) for w in words]
  vectors = np.asarray(vectors, dtype=np.float32)
  if vectors.ndim != 2 or vectors.shape[0] != len(words) or vectors.shape[1] < 1:
    raise ValueError(f'Expected {len(words)} x D vectors (D >= 1) for {len(words)} words, '
                     f'got shape {vectors.shape}.')
  for word in words:
    if not word or word.split() != [word]:
      raise ValueError(f'Words must be non-empty and contain no whitespace, got {word!r}.')
  if not np.all(np.isfinite(vectors)):
    raise ValueError('Vectors must be finite.')
  return words, vectors


def _text_line(word: str, vector: np.ndarray) -> bytes:
  # '%.9g' round-trips every float32 exactly, also when read back through float64.
  return (word + ' ' + ' '.join(f'{x:.9g}' for x in vector.tolist()) + '\n').encode('utf-8')


@contextlib.contextmanager
def _writing(path) -> Iterator[BinaryIO]:
  path = os.fspath(path)
  with fileio.path(path).open('wb') as raw:
    if path.endswith('.gz'):
      with gzip.GzipFile(fileobj=raw, mode='wb') as f:
        yield f
    else:
      yield raw
