"""Pictures written into a workdir (PNG, headless).

By what they show: `curves` (metrics over training steps), `classification`
(a classifier's predictions, filters and feature maps; `plot_run`),
`language_model` (LSTM gates), `autoencoder` (reconstructions, codes) and
`tables` (a result table as bars). `figures()` (in `common`) is the slice of
pyplot they all draw with.
"""

from __future__ import annotations

from research.plots.autoencoder import plot_codes_2d, plot_reconstructions
from research.plots.classification import (first_conv_kernel, plot_confusion_matrix,
                                           plot_feature_maps, plot_filters, plot_run,
                                           plot_signals, plot_textcnn_ngrams, predict,
                                           textcnn_ngrams)
from research.plots.common import _Figures, figures
from research.plots.curves import plot_autoencoder_curves, plot_lm_curves, plot_training_curves
from research.plots.language_model import lstm_gates, plot_lstm_gates
from research.plots.tables import plot_table

__all__ = [
    '_Figures', 'figures', 'first_conv_kernel', 'lstm_gates', 'plot_autoencoder_curves',
    'plot_codes_2d', 'plot_confusion_matrix', 'plot_feature_maps', 'plot_filters',
    'plot_lm_curves', 'plot_lstm_gates', 'plot_reconstructions', 'plot_run', 'plot_signals',
    'plot_table', 'plot_textcnn_ngrams', 'plot_training_curves', 'predict', 'textcnn_ngrams',
]
