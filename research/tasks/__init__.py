"""Task registry: config `task` -> module with `train_step` and `eval_step`."""

from research.tasks import classification

TASKS = {
    'classification': classification,
}
