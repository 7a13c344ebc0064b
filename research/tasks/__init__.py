"""Task registry: config `task` -> module with its steps, models and feeder.

Each module defines MODELS, DATA_MODEL_FIELDS, BEST_DURING_TRAINING,
check_config, state_shardings, make_feeder, init_variables, bind_train_step,
bind_eval_step, summarize_eval and plot_run (see `research.train`). `COUNT_BASED_TASKS` are fitted by counting
rather than by gradient steps and bring their own `train_and_evaluate`.
"""

from research.tasks import autoencoder, classification, distillation, language_model, ngram, pca

TASKS = {
    'classification': classification,
    'language_model': language_model,
    'autoencoder': autoencoder,
    'distillation': distillation,
}

COUNT_BASED_TASKS = {
    'ngram': ngram,
    'pca': pca,
}
