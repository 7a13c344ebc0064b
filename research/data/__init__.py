"""Data: TFDS datasets by name, the project's own builders, device feeding."""

from research.data.registry import DATASETS, DatasetSpec

__all__ = ['DATASETS', 'DatasetSpec']
