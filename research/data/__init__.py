"""Data: TFDS datasets by name, the project's own builders, in-memory batching."""

from research.data.datasets import DATASETS, DatasetSpec, load_split

__all__ = ['DATASETS', 'DatasetSpec', 'load_split']
