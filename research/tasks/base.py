"""The contract between an experiment family and the trainer.

A family trained by gradient steps is a `Task`: a frozen record of pure
functions and a few declarations. The trainer (`research.train`, compiled by
`research.step`) owns everything else: building the state, the one generic
train step (value_and_grad -> optax update -> norms), its `jax.jit` with
shardings and donation, the loop, checkpoints, evaluation and the workdir. A
family adds a module under `research/tasks/` that builds a `Task`, registers
it in `research.tasks.TASKS`, and puts its models under `research/models/`.

What the trainer calls, in order:

  check_config(config)                     every check that needs no data
  make_feeder(config, mesh) -> Feeder      the data (see `Feeder`)
  load_constants(config, feeder, mesh)     read-only arrays every step needs
                                           (a distillation teacher), or None
  sync_workdir(workdir, config, feeder, constants)
                                           files derived from the data
                                           (vocabulary, tokenizer, teacher)
  init_variables(model, feeder) -> rng -> (params, model_state)
  state_shardings(abstract_state, mesh)    where each leaf of the state lives
  loss(params, model_state, batch, rngs, constants, step, *, model, config)
      -> (loss, (new_model_state, metrics))    the objective, pure
  update_mask(updates, step, *, model, config) -> 0/1 pytree, or None
  eval_step(params, model_state, batch, carry, constants, *, model, config)
      -> (sums, carry)                     sums over the real (masked) examples
  summarize_eval(sums, prefix) -> metrics  exact metrics from the summed batches
  plot_run(workdir, config, model, state, feeder) -> [paths]
  plot_eval(workdir, config, model, state, feeder, step) -> [paths]
                                           pictures of the run so far, after
                                           each periodic evaluation (optional)

`rngs` is a dict with one key per name in `rng_streams`, already folded with
the step (`research.step.step_rngs`), so a resumed run draws the same numbers.

A family fitted in closed form (n-gram counts, PCA) is a `FittedTask`: it
checks its config and fits-and-evaluates into a workdir through
`research.workdir`, beside the trainer rather than through it.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterator, Mapping, Protocol

import jax

from research import parallel
from research.data.registry import DATASETS


class Feeder(Protocol):
  """What a task's data looks like to the trainer. A feeder only produces the
  arguments of the compiled steps; the trainer compiles and calls them.

  Training: `train_args(step)` are the arguments for step `step` (laid out in
  `train_arg_shardings`), and `train_batch(*args)` turns them into the batch
  dict inside the compiled step (e.g. gathering rows by index, or slicing a
  window of a token stream): a pure function, traced, never jitted here.
  Evaluation: for each split name in `eval_splits` (the metric prefix),
  `eval_args(split)` yields the arguments of every eval batch,
  `eval_batch(*args)` builds the batch (with a 'mask' of real examples), and
  `initial_eval_carry(state, split)` is what the eval step threads from one
  batch to the next (a language model's hidden state; None otherwise).
  """
  steps_per_epoch: int
  eval_splits: tuple[str, ...]
  train_arg_shardings: tuple
  eval_arg_shardings: tuple

  @property
  def model_kwargs(self) -> dict[str, Any]: ...  # model fields the data decides

  def train_args(self, step: int) -> tuple: ...

  def train_batch(self, *args) -> dict[str, jax.Array]: ...

  def eval_args(self, split: str) -> Iterator[tuple]: ...

  def eval_batch(self, *args) -> dict[str, jax.Array]: ...

  def initial_eval_carry(self, state, split: str) -> Any: ...


def replicated_state(abstract_state, mesh) -> Any:
  """Every leaf on every device (data parallelism)."""
  return jax.tree.map(lambda _: parallel.replicated(mesh), abstract_state)


def _no_check(config) -> None:
  del config


def _no_constants(config, feeder, mesh) -> None:
  del config, feeder, mesh


def _no_files(workdir, config, feeder, constants) -> None:
  del workdir, config, feeder, constants


def _no_plots(workdir, config, model, state, feeder) -> list[str]:
  del workdir, config, model, state, feeder
  return []



@dataclasses.dataclass(frozen=True)
class Task:
  """A family trained by the trainer's generic step (see the module doc)."""
  name: str
  models: Mapping[str, type]
  make_feeder: Callable[[Any, Any], Feeder]
  init_variables: Callable[[Any, Feeder], Callable[[jax.Array], tuple[Any, Any]]]
  loss: Callable[..., tuple[jax.Array, tuple[Any, dict[str, jax.Array]]]]
  eval_step: Callable[..., tuple[dict[str, jax.Array], Any]]
  summarize_eval: Callable[[dict[str, Any], str], dict[str, Any]]
  check_config: Callable[[Any], None] = _no_check
  # Which config `dataset.name`s the task accepts (every registered dataset by default).
  datasets: Mapping[str, Any] = dataclasses.field(default_factory=lambda: DATASETS)
  # Model fields filled in from the data (the feeder's model_kwargs), not the config.
  data_model_fields: tuple[str, ...] = ()
  # Metrics whose best value over the run's evaluations goes into results.json.
  best_during_training: Mapping[str, Callable] = dataclasses.field(default_factory=dict)
  # Independent streams of randomness of a step (e.g. 'dropout', 'augment').
  rng_streams: tuple[str, ...] = ()
  state_shardings: Callable[[Any, Any], Any] = replicated_state
  load_constants: Callable[[Any, Feeder, Any], Any] = _no_constants
  sync_workdir: Callable[[str, Any, Feeder, Any], None] = _no_files
  update_mask: Callable[..., Any] | None = None
  plot_run: Callable[..., list[str]] = _no_plots
  plot_eval: Callable[..., list[str]] | None = None
  # After the final evaluation: (workdir, config, model, state, feeder) ->
  # more results (e.g. captions generated by beam search and their BLEU), for
  # figures the eval step's sums cannot give.
  final_results: Callable[..., dict[str, Any]] | None = None
  # (config, mesh, shape, num_classes) -> Feeder of random data of that shape,
  # for `launch.benchmark --synthetic`; None where the task has none.
  synthetic_feeder: Callable[..., Feeder] | None = None


@dataclasses.dataclass(frozen=True)
class FittedTask:
  """A baseline fitted in closed form: no steps, no seed, no checkpoints."""
  name: str
  models: Mapping[str, Any]
  check_config: Callable[[Any], None]
  # (config, workdir) -> results (also written to workdir/results.json).
  fit_and_evaluate: Callable[[Any, str], dict[str, Any]]
