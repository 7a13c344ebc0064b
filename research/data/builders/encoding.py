"""What the project's builders share: images handed to TFDS as PIL images.

TFDS encodes a numpy image to PNG with TensorFlow (`tf.image.encode_png`) but
a PIL image with PIL, so builders that yield PIL images build without
TensorFlow (the pixels are the same: PNG is lossless). With ArrayRecord files
(research/data/datasets.py) they are read back without it too.
"""

from __future__ import annotations

import numpy as np

# ArrayRecord (read without TensorFlow) and PIL-encoded images.
RELEASE_2_0_0 = 'Written as ArrayRecord with PIL-encoded images: builds and reads without TensorFlow.'


def pil_image(image_HxWx1: np.ndarray):
  """A uint8 H x W x 1 array as an 8-bit greyscale PIL image."""
  from PIL import Image
  return Image.fromarray(np.ascontiguousarray(image_HxWx1[..., 0], dtype=np.uint8), mode='L')
