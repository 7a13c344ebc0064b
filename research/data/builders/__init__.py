"""The project's own TFDS builders. Importing this package registers them."""

from research.data.builders.audio_folder import AudioFolder
from research.data.builders.caption_folder import CaptionFolder
from research.data.builders.labelled_text import LabelledText
from research.data.builders.mnist1d import Mnist1d
from research.data.builders.mnist_idx import MnistIdx
from research.data.builders.photo_folder import PhotoFolder
from research.data.builders.sklearn_digits import SklearnDigits
from research.data.builders.text_corpus import TextCorpus

__all__ = ['AudioFolder', 'CaptionFolder', 'LabelledText', 'Mnist1d', 'MnistIdx', 'PhotoFolder', 'SklearnDigits', 'TextCorpus']
