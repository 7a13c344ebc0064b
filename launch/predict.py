r"""Classify texts with a trained text classifier.

  python -m launch.predict --workdir=DIR "some text" ["another text" ...]

DIR is a `launch.train` workdir of a text-classification config (e.g.
configs/fortunes_textcnn.py); its saved vocabulary and latest checkpoint are
used. Prints, for each text, the predicted class, the words the model read
(after normalisation; [UNK] for words outside the vocabulary) and the most
probable classes.
"""

import sys

from absl import app, flags, logging

from launch import cli

_WORKDIR = flags.DEFINE_string('workdir', None, 'A text-classification run of launch.train.')
_TOP = flags.DEFINE_integer('top', 5, 'How many classes to list with their probabilities.')
flags.mark_flags_as_required(['workdir'])


def main(argv):
  texts = argv[1:]
  if not texts:
    raise app.UsageError('Give at least one text to classify.')
  if not flags.FLAGS['verbosity'].present:
    logging.set_verbosity(logging.WARNING)
  from research import errors, predict
  try:
    classifier = predict.load_classifier(_WORKDIR.value)
    for text in texts:
      print(predict.describe(classifier, text, top=_TOP.value))
  except errors.UserError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
