"""Every workdir and data-path file operation, local or in a bucket.

One path abstraction, `etils.epath.Path` (what orbax and TFDS use too), so
`--workdir=gs://bucket/run` and `--config.dataset.data_dir=gs://bucket/tfds`
work on a TPU VM as local paths do on a laptop. epath picks the backend: the
local file system for plain paths; for gs://, s3://, az://, TensorFlow's
`tf.io.gfile` when TensorFlow is installed, else fsspec (gcsfs, s3fs).

Object stores differ from a disk in two ways this module hides:
  * no rename-into-place: an object appears whole when its upload closes, so
    that is already atomic; a local file is written beside and renamed.
  * no append: `AppendFile` keeps a remote file's bytes and uploads them whole
    on `flush()` (rate-limited; forced at checkpoints and at the end), as
    TensorFlow's own GCS writer does.
"""

from __future__ import annotations

import io
import json
import os
import re
import threading
import time
from typing import Any, Union

from etils import epath

from research import errors, tfimport

PathLike = Union[str, os.PathLike]
_URL = re.compile(r'^([A-Za-z][A-Za-z0-9+.-]*)://')


def path(p: PathLike) -> epath.Path:
  if is_remote(p):
    # epath serves gs:// etc. through tf.io.gfile where TensorFlow is
    # installed, importing it on first use: import it first, quietly.
    tfimport.import_quietly()
  return epath.Path(p)


def is_remote(p: PathLike) -> bool:
  """gs://, s3://, ... (anything with a URL scheme)."""
  return bool(_URL.match(os.fspath(p)))


def absolute(p: PathLike) -> epath.Path:
  """A local path made absolute (orbax and the teacher record want one); a
  URL as it is."""
  return path(p) if is_remote(p) else path(os.path.abspath(os.fspath(p)))


def join(p: PathLike, *parts: str) -> str:
  """`os.path.join` that keeps `gs://` intact; returns a string."""
  return os.fspath(path(p).joinpath(*parts))


def exists(p: PathLike) -> bool:
  return path(p).exists()


def isdir(p: PathLike) -> bool:
  return path(p).is_dir()


def isfile(p: PathLike) -> bool:
  return path(p).is_file()


def size(p: PathLike) -> int:
  return path(p).stat().length


def is_alias_in(p: PathLike, directory: PathLike) -> bool:
  """A local symlink to a file in `directory` itself (a second name for one of
  its files); object stores have no links."""
  if is_remote(p):
    return False
  return (os.path.islink(p) and os.path.dirname(os.path.realpath(p))
          == os.path.realpath(directory))


def listdir(p: PathLike) -> list[str]:
  return sorted(child.name for child in path(p).iterdir())


def walk_files(directory: PathLike) -> list[str]:
  """Paths of every file under `directory` (local or remote), relative to it
  with '/' separators, sorted; hidden files and folders skipped."""
  found, pending = [], ['']
  while pending:
    relative = pending.pop()
    for name in listdir(join(directory, relative) if relative else directory):
      if name.startswith('.'):
        continue
      child = f'{relative}/{name}' if relative else name
      if isdir(join(directory, child)):
        pending.append(child)
      else:
        found.append(child)
  return sorted(found)


def makedirs(p: PathLike) -> None:
  path(p).mkdir(parents=True, exist_ok=True)


def read_text(p: PathLike) -> str:
  return path(p).read_text(encoding='utf-8')


def read_bytes(p: PathLike) -> bytes:
  return path(p).read_bytes()


def read_json(p: PathLike) -> Any:
  return json.loads(read_text(p))


def write_atomically(p: PathLike, data: str | bytes) -> None:
  """The file holds the old or the new content, never a part: locally written
  beside and renamed; an object in a bucket appears only once its upload has
  closed. The parent directory is created."""
  target = path(p)
  blob = data.encode('utf-8') if isinstance(data, str) else data
  if is_remote(p):
    target.write_bytes(blob)
    return
  target.parent.mkdir(parents=True, exist_ok=True)
  tmp = target.parent / f'.{target.name}.tmp{os.getpid()}'
  tmp.write_bytes(blob)
  os.replace(tmp, target)


def write_json(p: PathLike, record: Any) -> None:
  write_atomically(p, json.dumps(record, indent=2, sort_keys=True))


def save_figure(fig, p: PathLike, *, dpi: int = 110) -> str:
  """`fig.savefig` into any path (matplotlib writes local files only)."""
  buffer = io.BytesIO()
  fig.savefig(buffer, format=os.fspath(p).rsplit('.', 1)[-1], dpi=dpi)
  write_atomically(p, buffer.getvalue())
  return os.fspath(p)


class AppendFile:
  """A file that grows by appends: metrics lines, TensorBoard records.

  Locally, an ordinary file opened for appending and flushed on `flush()`.
  In a bucket, where objects cannot be appended to, the whole content is
  kept and re-uploaded on `flush()`, at most once every `min_upload_seconds`
  unless forced; a run killed in between loses only what it redoes on
  resume (everything after its last checkpoint)."""

  def __init__(self, p: PathLike, *, min_upload_seconds: float = 30.0):
    self._path = path(p)
    self._remote = is_remote(p)
    self._min_upload_seconds = min_upload_seconds
    self._lock = threading.Lock()
    if self._remote:
      self._content = bytearray(self._path.read_bytes() if self._path.exists() else b'')
      self._uploaded_at, self._dirty = 0.0, False
    else:
      self._path.parent.mkdir(parents=True, exist_ok=True)
      _drop_partial_line(self._path)
      self._file = open(self._path, 'ab')  # noqa: SIM115 (closed in close())

  def write(self, data: bytes) -> None:
    with self._lock:
      if self._remote:
        self._content += data
        self._dirty = True
      else:
        self._file.write(data)

  def flush(self, *, force: bool = False) -> None:
    with self._lock:
      if not self._remote:
        self._file.flush()
        return
      now = time.monotonic()
      if self._dirty and (force or now - self._uploaded_at >= self._min_upload_seconds):
        self._path.write_bytes(bytes(self._content))
        self._uploaded_at, self._dirty = now, False

  def close(self) -> None:
    self.flush(force=True)
    if not self._remote:
      self._file.close()


def _drop_partial_line(p: epath.Path) -> None:
  """A run killed in the middle of writing a line leaves it unterminated; the
  next appends would continue it into garbage. Cuts it off (text files only:
  a file of records that ends in a newline, or is empty, is left as it is)."""
  if not p.exists() or p.suffix not in ('.jsonl', '.txt', '.log'):
    return
  with open(p, 'rb+') as f:
    f.seek(0, os.SEEK_END)
    size = f.tell()
    if size == 0:
      return
    f.seek(max(0, size - 65536))
    tail = f.read()
    if tail.endswith(b'\n'):
      return
    cut = tail.rfind(b'\n')
    f.truncate(size - len(tail) + cut + 1 if cut >= 0 else (0 if size <= 65536 else size))


def check_reachable(p: PathLike, what: str, *, timeout_s: float = 120.0) -> None:
  """For a remote path: one clear error now (bucket missing, no credentials,
  no network) instead of a traceback from deep inside a writer later. Runs
  the probe in a thread so a client that retries for minutes cannot hang the
  launch. Local paths need no probe."""
  if not is_remote(p):
    return
  scheme = _URL.match(os.fspath(p)).group(1)
  bucket_root = path(f'{scheme}://{os.fspath(p)[len(scheme) + 3:].split("/", 1)[0]}')
  outcome: list[BaseException | bool] = []

  def probe():
    try:
      outcome.append(bucket_root.exists())
    except BaseException as e:  # noqa: BLE001 (reported below as the reason)
      outcome.append(e)

  thread = threading.Thread(target=probe, daemon=True)
  thread.start()
  thread.join(timeout_s)
  if not outcome:
    raise errors.ConfigError(
        f'{what}={os.fspath(p)!r}: no answer from {bucket_root} within {timeout_s:.0f} s '
        '(no network, or no credentials: `gcloud auth application-default login`).')
  if isinstance(outcome[0], BaseException):
    reason = ' '.join(str(outcome[0]).split())[:300] or type(outcome[0]).__name__
    raise errors.ConfigError(
        f'{what}={os.fspath(p)!r} cannot be reached ({type(outcome[0]).__name__}: {reason}). '
        'Check the bucket name, the credentials (`gcloud auth application-default login`) '
        'and the network.')
  if not outcome[0]:
    raise errors.ConfigError(
        f'{what}={os.fspath(p)!r}: bucket {bucket_root} does not exist or is not visible '
        'with these credentials. Create it (`gcloud storage buckets create ...`) or fix the name.')
