"""Task registry: config `task` -> the family's `Task` (trained by
`research.train`) or `FittedTask` (fitted in closed form); see
`research.tasks.base` for the contract."""

from research.tasks import (autoencoder, caption_baselines, captioning, classification,
                            distillation, fast_style, language_model, neural_style, ngram,
                            pca, sentence_baselines, spoken_words, transcription,
                            word_baselines)
from research.tasks.base import FittedTask, Task

TASKS: dict[str, Task | FittedTask] = {
    'classification': classification.TASK,
    'language_model': language_model.TASK,
    'autoencoder': autoencoder.TASK,
    'distillation': distillation.TASK,
    'ngram': ngram.TASK,
    'pca': pca.TASK,
    'neural_style': neural_style.TASK,
    'fast_neural_style': fast_style.TASK,
    'captioning': captioning.TASK,
    'caption_baseline': caption_baselines.TASK,
    'spoken_words': spoken_words.TASK,
    'spoken_word_baseline': word_baselines.TASK,
    'transcription': transcription.TASK,
    'transcription_baseline': sentence_baselines.TASK,
}
