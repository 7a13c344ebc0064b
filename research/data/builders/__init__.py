"""The project's own TFDS builders. Importing this package registers them."""

from research.data.builders.mnist_idx import MnistIdx
from research.data.builders.sklearn_digits import SklearnDigits

__all__ = ['MnistIdx', 'SklearnDigits']
