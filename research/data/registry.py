"""Which datasets exist and how to get each; importable without TensorFlow."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
  tfds_name: str                # builder name, with '/config' where needed
  image_key: str = 'image'
  label_key: str = 'label'
  builds_offline: bool = False  # a project builder that needs no network
  needs_manual_dir: bool = False  # a project builder reading local files
  in_memory: bool = True        # small enough to keep whole on every device
  how_to_get: str = ''
  # Text corpora: TFDS split (or slice) read as our 'train'/'validation'/'test'.
  text_splits: dict | None = None


def _public(name: str, in_memory: bool = True) -> DatasetSpec:
  return DatasetSpec(
      tfds_name=name, in_memory=in_memory,
      how_to_get=(
          f'On a machine with network access run `tfds build {name} '
          '--data_dir=DIR` (or train once with --config.dataset.download=True), '
          'then copy DIR here and pass --config.dataset.data_dir=DIR '
          '(or set TFDS_DATA_DIR).'))


def _idx(config: str, how_to_get: str) -> DatasetSpec:
  return DatasetSpec(
      tfds_name=f'mnist_idx/{config}', builds_offline=True, needs_manual_dir=True,
      how_to_get=how_to_get + ' Pass the directory as --config.dataset.manual_dir=DIR.')


DATASETS: dict[str, DatasetSpec] = {
    'sklearn_digits': DatasetSpec(
        tfds_name='sklearn_digits', builds_offline=True,
        how_to_get='It is built from scikit-learn (`pip install scikit-learn`).'),
    'mnist': _public('mnist'),
    'fashion_mnist': _public('fashion_mnist'),
    'kmnist': _public('kmnist'),
    'cifar10': _public('cifar10'),
    'imagenet2012': DatasetSpec(
        tfds_name='imagenet2012', in_memory=False,
        how_to_get=('ImageNet needs a manual download: put ILSVRC2012_img_train.tar '
                    'and ILSVRC2012_img_val.tar in DATA_DIR/downloads/manual and run '
                    '`tfds build imagenet2012 --data_dir=DATA_DIR`.')),
    # MNIST-format IDX files in a local directory (research/data/builders/mnist_idx.py).
    'fashion_mnist_idx': _idx(
        'fashion_mnist',
        'On Debian/Ubuntu: `apt-get install dataset-fashion-mnist` puts the files '
        'in /usr/share/datasets/fashion-mnist; elsewhere download the four '
        '*-ubyte.gz files listed at github.com/zalandoresearch/fashion-mnist.'),
    'mnist_idx': _idx(
        'mnist', 'Download the four *-ubyte.gz files from LeCun\'s MNIST page.'),
    # A local plain-text corpus (research/data/builders/text_corpus.py), and the
    # public one in the same one-example-per-split format.
    'text_corpus': DatasetSpec(
        tfds_name='text_corpus', builds_offline=True, needs_manual_dir=True,
        how_to_get=('Put UTF-8 text files in one directory (PTB-style *.train.txt, '
                    '*.valid.txt, *.test.txt, or any files, split 90/5/5), e.g. '
                    '`apt-get install fortunes` gives /usr/share/games/fortunes, and pass it '
                    'as --config.dataset.manual_dir=DIR.')),
    'tiny_shakespeare': _public('tiny_shakespeare'),
    # One Billion Word (Chelba et al. 2013): one sentence per example; TFDS has
    # train and test only, so the held-out test is halved into validation and
    # test. The whole train split (0.8B words) does not fit the in-memory token
    # path: slice it, e.g. --config.dataset.train_split='train[:2%]'.
    'lm1b': dataclasses.replace(_public('lm1b'), text_splits={
        'validation': 'test[:50%]', 'test': 'test[50%:]'}),
    'kmnist_idx': _idx(
        'kmnist', 'Download the four kmnist *-ubyte.gz files from github.com/rois-codh/kmnist.'),
}
