"""Orbax checkpoints of the train state (plus a small JSON of run bookkeeping).

Saves are asynchronous and atomic (written to a temporary directory, then
renamed), so a run killed mid-save leaves the previous checkpoint intact.
Restores use an abstract target (`jax.eval_shape` + shardings), so a state
saved on N devices restores on M.
"""

from __future__ import annotations


from typing import Any

import jax
import orbax.checkpoint as ocp

from research import fileio


class Checkpointer:

  def __init__(self, directory: str, *, every_steps: int, max_to_keep: int):
    self._manager = ocp.CheckpointManager(
        fileio.absolute(directory),
        options=ocp.CheckpointManagerOptions(
            save_interval_steps=every_steps,
            max_to_keep=max_to_keep,
            create=True,
            cleanup_tmp_directories=True,
            enable_async_checkpointing=True,
        ),
        item_handlers={
            'state': ocp.StandardCheckpointHandler(),
            'meta': ocp.JsonCheckpointHandler(),
        },
    )

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def all_steps(self) -> list[int]:
    return list(self._manager.all_steps())

  def should_save(self, step: int) -> bool:
    return self._manager.should_save(step)

  def save(self, step: int, state: Any, meta: dict[str, Any], *, force: bool = False) -> bool:
    return self._manager.save(
        step,
        args=ocp.args.Composite(
            state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)),
        force=force)

  def restore(self, step: int, abstract_state: Any) -> tuple[Any, dict[str, Any]]:
    restored = self._manager.restore(
        step,
        args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract_state),
            meta=ocp.args.JsonRestore()))
    return restored['state'], dict(restored['meta'])

  def reached_preemption(self, step: int) -> bool:
    return self._manager.reached_preemption(step)

  def wait(self) -> None:
    self._manager.wait_until_finished()

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()


def abstract_like(tree: Any) -> Any:
  """ShapeDtypeStructs with each array's shape, dtype and sharding: the restore
  target, so a state saved on N devices is laid out for this run's mesh."""
  return jax.tree.map(
      lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), tree)
