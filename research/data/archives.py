"""Files read out of package archives as bytes, without installing or running
anything: a Debian .deb (an `ar` archive around data.tar.*) and a Qt resource
file (.rcc, where Qt applications such as GCompris keep their images).

Both formats are simple and stable, so they are parsed here with the standard
library instead of `dpkg-deb` or Qt's `rcc`, which an offline machine may not
have (and which would not run on macOS or in a bare container). Anything that
does not parse is one `DataNotFoundError` naming the file.
"""

from __future__ import annotations

import io
import posixpath
import struct
import tarfile
import zlib
from typing import Callable

from research import errors

_AR_MAGIC = b'!<arch>\n'


def ar_members(blob: bytes, label: str) -> dict[str, bytes]:
  """The members of a Unix `ar` archive (what a .deb is): an 8-byte magic,
  then per member a 60-byte header (name 16, mtime 12, uid 6, gid 6, mode 8,
  decimal size 10, "`\\n") and its bytes, padded to an even offset."""
  if not blob.startswith(_AR_MAGIC):
    raise errors.DataNotFoundError(f'{label}: not a .deb (no `ar` archive header).')
  members, pos = {}, len(_AR_MAGIC)
  while pos < len(blob):
    header = blob[pos:pos + 60]
    try:
      if len(header) < 60 or header[58:60] != b'`\n':
        raise ValueError('bad member header')
      name = header[:16].decode('ascii').rstrip().rstrip('/')
      size = int(header[48:58].decode('ascii'))
    except (ValueError, UnicodeDecodeError) as e:
      raise errors.DataNotFoundError(
          f'{label}: the .deb is truncated or damaged at byte {pos} ({e}).') from e
    data = blob[pos + 60:pos + 60 + size]
    if len(data) < size:
      raise errors.DataNotFoundError(
          f'{label}: the .deb is truncated (member {name} has {len(data)} of {size} bytes).')
    members[name] = data
    pos += 60 + size + (size & 1)
  return members


def deb_files(blob: bytes, wanted: list[str] | Callable[[str], bool],
              label: str, links: dict[str, str] | None = None) -> dict[str, bytes]:
  """The files `wanted` (paths without the leading './', e.g.
  'usr/share/doc/opencv-doc/examples/data/starry_night.jpg'; or a predicate
  on such paths: every file it accepts, none required) from a .deb's
  data.tar.{xz,gz,bz2} (read as a stream: a 300 MB data.tar is never held
  decompressed). zstd (newer Ubuntu .debs) would need a module outside the
  standard library; the pinned packages use xz. With `links`, the symbolic
  links the predicate accepts are recorded there too, as path -> the path
  they point to (made relative to the archive's root, like the names)."""
  accept = wanted if callable(wanted) else set(wanted).__contains__
  members = ar_members(blob, label)
  data_name = next((n for n in members if n.startswith('data.tar')), None)
  if data_name is None:
    raise errors.DataNotFoundError(
        f'{label}: no data.tar.* in the .deb (members: {", ".join(members) or "none"}).')
  if data_name.endswith('.zst'):
    raise errors.DataNotFoundError(
        f'{label}: its {data_name} is zstd-compressed, which this reader does not handle '
        '(the pinned .debs use xz): not the expected package.')
  found: dict[str, bytes] = {}
  try:
    with tarfile.open(fileobj=io.BytesIO(members[data_name]), mode='r|*') as tar:
      for member in tar:
        name = member.name[2:] if member.name.startswith('./') else member.name
        if member.isfile() and accept(name):
          found[name] = tar.extractfile(member).read()
        elif links is not None and member.issym() and accept(name):
          links[name] = posixpath.normpath(posixpath.join(
              posixpath.dirname(name), member.linkname)).lstrip('/')
          if not callable(wanted) and len(found) == len(wanted):
            break
  except (tarfile.TarError, EOFError, OSError, ValueError) as e:  # lzma/zlib errors included
    if isinstance(e, OSError) and errors.system_cause(e):
      raise
    raise errors.DataNotFoundError(
        f'{label}: its {data_name} is truncated or damaged ({type(e).__name__}: {e}).') from e
  missing = [] if callable(wanted) else [n for n in wanted if n not in found]
  if missing:
    raise errors.DataNotFoundError(
        f'{label}: {", ".join(missing)} not in the package: not the expected package.')
  return found


# Qt resource files (Qt's src/tools/rcc/rcc.cpp writes them, QResourceRoot reads
# them). Header: 'qres', then big-endian u32 version, tree, data and names
# offsets, and (version 3+) overall flags. Tree nodes, 14 bytes (+ an 8-byte
# mtime from version 2): name offset u32, flags u16, then a directory's child
# count u32 and first child index u32, or a file's country u16, language u16
# and data offset u32. A name: u16 length, u32 hash, UTF-16BE characters. A
# file's data: u32 size and the bytes; zlib-compressed entries (qCompress)
# begin with their uncompressed size as a u32.
_RCC_COMPRESSED, _RCC_DIRECTORY, _RCC_COMPRESSED_ZSTD = 0x1, 0x2, 0x4


def rcc_files(blob: bytes, label: str) -> dict[str, bytes]:
  """Every file of a Qt resource file, by its resource path ('/a/b/c.qml')."""
  try:
    magic, version, tree, data, names = struct.unpack_from('>4sIIII', blob, 0)
    if magic != b'qres' or not 1 <= version <= 3:
      raise ValueError(f'no Qt resource header (magic {magic!r}, version {version})')
    node_size = 14 if version == 1 else 22

    def name_at(offset: int) -> str:
      length, _ = struct.unpack_from('>HI', blob, names + offset)
      raw = blob[names + offset + 6:names + offset + 6 + 2 * length]
      if len(raw) != 2 * length:
        raise ValueError('a name runs past the end of the file')
      return raw.decode('utf-16-be')

    files: dict[str, bytes] = {}
    stack, seen = [(0, '')], set()
    while stack:
      index, parent = stack.pop()
      if index in seen:
        raise ValueError(f'tree node {index} is reached twice')
      seen.add(index)
      at = tree + index * node_size
      name_offset, flags = struct.unpack_from('>IH', blob, at)
      path = f'{parent}/{name_at(name_offset)}' if index else ''
      if flags & _RCC_DIRECTORY:
        count, first = struct.unpack_from('>II', blob, at + 6)
        if first + count > len(blob) // node_size:
          raise ValueError(f'directory {path or "/"} has {count} children past the end')
        stack += [(child, path) for child in range(first, first + count)]
        continue
      (offset,) = struct.unpack_from('>I', blob, at + 10)
      (size,) = struct.unpack_from('>I', blob, data + offset)
      content = blob[data + offset + 4:data + offset + 4 + size]
      if len(content) != size:
        raise ValueError(f'{path} runs past the end of the file')
      if flags & _RCC_COMPRESSED_ZSTD:
        raise ValueError(f'{path} is zstd-compressed, which this reader does not handle')
      if flags & _RCC_COMPRESSED:
        (expected,) = struct.unpack_from('>I', content, 0)
        content = zlib.decompress(content[4:])
        if len(content) != expected:
          raise ValueError(f'{path} inflates to {len(content)} bytes, not {expected}')
      files[path] = content
    return files
  except (struct.error, ValueError, UnicodeDecodeError, zlib.error) as e:
    raise errors.DataNotFoundError(
        f'{label}: not a readable Qt resource file ({type(e).__name__}: {e}).') from e
