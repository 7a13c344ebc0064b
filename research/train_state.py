"""The train state: a pytree of arrays only (the optimizer and model live outside)."""

from typing import Any

import flax.struct
import jax


@flax.struct.dataclass
class TrainState:
  step: jax.Array       # number of completed updates
  params: Any           # flax 'params' collection
  opt_state: Any        # optax state
  model_state: Any      # other flax collections, e.g. {'batch_stats': ...}; {} if none
