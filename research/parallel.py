"""Data parallelism over every device of every host with `jax.jit` + a Mesh.

Params are replicated; a global batch is split along its leading axis over the
mesh axis 'data'. Each process contributes its own rows of the global batch.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

DATA_AXIS = 'data'


def make_mesh() -> Mesh:
  return Mesh(np.asarray(jax.devices()), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def batch_sharded(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P(DATA_AXIS))


def global_batch(local_rows: np.ndarray, mesh: Mesh) -> jax.Array:
  """A global array sharded over 'data' from this process's rows."""
  sharding = batch_sharded(mesh)
  global_shape = (local_rows.shape[0] * jax.process_count(),) + local_rows.shape[1:]
  return jax.make_array_from_process_local_data(sharding, local_rows, global_shape)


def replicate(host_array: np.ndarray, mesh: Mesh) -> jax.Array:
  """Every device gets the whole array (each process passes the same data)."""
  return jax.make_array_from_process_local_data(
      replicated(mesh), host_array, host_array.shape)


def sync_processes(name: str) -> None:
  """Blocks until every process gets here (a no-op on one process)."""
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils
    multihost_utils.sync_global_devices(name)
