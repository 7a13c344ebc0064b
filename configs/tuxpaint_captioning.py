r"""Image captioning, Show and Tell (Vinyals et al. 2015) on Tux Paint's
captioned stamps: a frozen ImageNet CNN's image vector starts an LSTM that
writes the caption; beam search at test time.

Data and weights (once; hash-checked, from packages):
  python -m launch.get_data tuxpaint_stamps     # data/tuxpaint_stamps: 785 images + captions
  python -m launch.get_weights squeezenet1_1    # data/weights (or vgg19 for encoder=vgg19)

Train and evaluate (BLEU-1..4, METEOR, ROUGE-L, CIDEr-D of beam-search
captions of the test images; the captions in WORKDIR/captions_test.json):
  python -m launch.train --config=configs/tuxpaint_captioning.py --workdir=runs/captions

Variants (`--config=configs/tuxpaint_captioning.py:KEY=VALUE,...`):
  encoder=squeezenet1_1|vgg19   the frozen CNN (pooled last conv layer, 512-d)
  random_encoder                the same CNN with random weights (a baseline)
  baseline=most_frequent        no model: the most frequent training caption for every image
  baseline=nearest_neighbour    no model: the consensus caption of the 5 training images
                                whose encoder features are nearest (Devlin et al. 2015)
  beam=N                        beam size (the paper: 20 on COCO; 1 = greedy)
  runlocal                      a smoke run: 2 steps, a tiny decoder

Any captioned images work the same way: --config.dataset.manual_dir=DIR with
captions.json / captions.csv / Flickr8k's files (research/data/builders/
caption_folder.py), or TFDS's coco_captions on a machine with a network
(--config.dataset.name=coco_captions --config.dataset.eval_split=val).

Table: python -m launch.reproduce captioning --seeds=3 --workers=2 (17 runs,
13 min on the 2-core CPU). Test BLEU-4 / CIDEr-D: this config 26.1 / 99
(28.6 / 113 in an earlier run: the decoder moves with the float order, README);
nearest neighbour 18.6 / 75; most frequent caption 0.0 / 1.6; random encoder
1.2 / 22; paper (COCO, abstract) BLEU-4 27.7, not comparable.

Paper (Vinyals et al. 2015; COCO, Flickr8k): GoogLeNet encoder, 512-d
embeddings and LSTM, SGD, dropout, an ensemble; beam 20. Here one model,
Adam, the frozen SqueezeNet v1.1 or VGG-19 that ship in packages. The
paper's COCO/Flickr figures are for photographs with five scene descriptions
each; Tux Paint's stamps are clip art with one short object caption each, so
the two are not comparable (README, "Image captioning").
"""

from ml_collections import config_dict

from research import caption_metrics, config_lib


def get_config(arg=None):
  arg = config_lib.parse_arg(arg, encoder='squeezenet1_1', random_encoder=False, beam=3,
                             baseline='', runlocal=False)
  c = config_dict.ConfigDict()
  c.task = 'captioning'
  c.seed = 0

  c.dataset = config_lib.dataset('caption_folder', manual_dir='data/tuxpaint_stamps')

  c.encoder = config_dict.ConfigDict()
  c.encoder.name = arg.encoder
  c.encoder.weights_dir = 'data/weights'
  c.encoder.pretrained = not arg.random_encoder

  c.captions = config_dict.ConfigDict()
  # Rarer training words are <unk>. 1 keeps every word: with one caption per
  # image most object names occur once, and a model that cannot say them
  # loses to nearest-neighbour retrieval, which copies them (README: with 2,
  # CIDEr 58 against its 76).
  c.captions.min_count = 1
  c.captions.max_length = 16    # words; longer captions are cut

  c.model = config_dict.ConfigDict()
  if arg.baseline:  # fitted, not trained (research/tasks/caption_baselines.py)
    c.task = 'caption_baseline'
    c.model.name = arg.baseline
    c.model.k = 5  # nearest_neighbour: training images whose captions are pooled
  else:
    c.model.name = 'show_and_tell'
    c.model.embed_size = 512   # the paper's 512 (section 4.3.1)
    c.model.hidden_size = 512
    c.model.dropout_rate = 0.3
    c.model.dtype = 'float32'

  c.decode = config_dict.ConfigDict()
  c.decode.beam_size = arg.beam
  c.decode.max_length = 16
  c.caption_metrics = caption_metrics.METRICS

  c.optimizer = config_lib.optimizer('adam', learning_rate=1e-3)
  c.schedule = config_lib.schedule('cosine')

  c.batch_size = 32
  c.eval_batch_size = 256
  c.num_epochs = 40.0
  c.num_train_steps = config_dict.placeholder(int)  # overrides num_epochs when set

  c.log_every_steps = 100
  c.eval_every_steps = 200
  c.checkpoint_every_steps = 200
  c.keep_checkpoints = 2
  c.tensorboard = True
  c.plot = True

  if arg.runlocal and not arg.baseline:
    c.model.embed_size = 8
    c.model.hidden_size = 8
  if arg.runlocal:
    c.num_train_steps = 2
    c.batch_size = 4
    c.eval_batch_size = 8
    c.decode.max_length = 5
    c.log_every_steps = 1
    c.eval_every_steps = 1
    c.checkpoint_every_steps = 1
  return c
