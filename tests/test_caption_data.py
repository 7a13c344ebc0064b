"""Captioned images offline: the caption_folder TFDS builder (a user's
captions.json / captions.csv, Flickr token files) and `launch.get_data
tuxpaint_stamps` / `openclipart` on tiny generated .debs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from research import errors
from research.data import get
from research.data.builders import caption_folder
from test_get_data import image_bytes, make_deb
from testlib import build_local_splits, sha256_of as sha256


def save(path, array):
  from PIL import Image
  path.parent.mkdir(parents=True, exist_ok=True)
  Image.fromarray(array).save(path)
  return path


def build(directory, tmp_path):
  return build_local_splits('caption_folder', directory, tmp_path)


def test_a_user_csv_gives_several_captions_per_image_and_its_own_split(tmp_path):
  photos = tmp_path / 'mine'
  rng = np.random.default_rng(0)
  for name in ('a.png', 'sub/b.jpg', 'c.png', 'unlisted.png'):
    save(photos / name, rng.integers(0, 256, (30, 40, 3), np.uint8))
  (photos / 'captions.csv').write_text(
      'image,caption,split\n'
      'a.png,A red  box.,train\n'
      'a.png,"A box, red.",train\n'
      'sub/b.jpg,Two dogs.,test\n'
      './c.png,A cat.,validation\n')
  splits = build(photos, tmp_path)
  assert sorted(splits) == ['test', 'train', 'validation']
  (a,), (b,), (c,) = splits['train'], splits['test'], splits['validation']
  assert a['image/filename'] == b'a.png'
  assert [t.decode() for t in a['captions']] == ['A red box.', 'A box, red.']  # spaces folded
  assert b['image/filename'] == b'sub/b.jpg' and list(b['captions']) == [b'Two dogs.']
  assert c['image'].shape == (256, 256, 3) and c['image'].dtype == np.uint8


def test_transparency_goes_on_white_and_a_wide_image_is_padded_not_cropped(tmp_path):
  photos = tmp_path / 'clipart'
  drawing = np.zeros((20, 80, 4), np.uint8)
  drawing[:, :40] = (255, 0, 0, 255)  # left half opaque red, right half transparent
  save(photos / 'wide.png', drawing)
  captions = {'wide.png': 'A red bar.'}
  for i in range(12):  # enough images for both hash splits
    save(photos / f'p{i}.png', np.full((16, 16, 3), 10 * i, np.uint8))
    captions[f'p{i}.png'] = [f'Picture {i}.', f'Image number {i}.']
  (photos / 'captions.json').write_text(json.dumps(captions))
  splits = build(photos, tmp_path)
  examples = {e['image/filename'].decode(): e for s in splits.values() for e in s}
  assert len(examples) == 13 and all(len(examples[f'p{i}.png']['captions']) == 2
                                     for i in range(12))
  assert {caption_folder.hash_split(n) for n in examples} == {'train', 'test'}
  image = examples['wide.png']['image'].astype(int)
  # 80x20 padded to 80x80 (white above and below), then resized to 256.
  assert (image[:60] >= 250).all() and (image[-60:] >= 250).all()
  middle = image[128]
  assert middle[20, 0] > 240 and middle[20, 1] < 15 and middle[20, 2] < 15  # red
  assert (middle[230] >= 250).all()  # was transparent: white


def test_flickr8k_token_file_and_split_lists(tmp_path):
  photos = tmp_path / 'flickr8k'
  rng = np.random.default_rng(1)
  for name in ('1000_a.jpg', '1001_b.jpg', '1002_c.jpg'):
    save(photos / 'Flicker8k_Dataset' / name, rng.integers(0, 256, (24, 32, 3), np.uint8))
  (photos / 'Flickr8k.token.txt').write_text(
      '1000_a.jpg#0\tA child in a pink dress .\n1000_a.jpg#1\tA girl going into a building .\n'
      '1001_b.jpg#0\tA black dog .\n1002_c.jpg#0\tA man on a rock .\n')
  (photos / 'Flickr_8k.trainImages.txt').write_text('1000_a.jpg\n')
  (photos / 'Flickr_8k.devImages.txt').write_text('1001_b.jpg\n')
  (photos / 'Flickr_8k.testImages.txt').write_text('1002_c.jpg\n')
  splits = build(photos, tmp_path)
  assert {s: [e['image/filename'].decode() for e in v] for s, v in splits.items()} == {
      'train': ['Flicker8k_Dataset/1000_a.jpg'], 'validation': ['Flicker8k_Dataset/1001_b.jpg'],
      'test': ['Flicker8k_Dataset/1002_c.jpg']}
  assert len(splits['train'][0]['captions']) == 2


@pytest.mark.parametrize('case, match', [
    ('missing', 'names 1 image'),
    ('empty', 'an empty caption'),
    ('not_an_image', 'not an image PIL can read'),
    ('no_file', 'no caption file'),
    ('two_files', 'several caption files'),
    ('bad_header', 'must name the columns'),
])
def test_unusable_caption_folders_name_the_file_and_the_fix(tmp_path, case, match):
  photos = tmp_path / case
  save(photos / 'a.png', np.zeros((8, 8, 3), np.uint8))
  # A split column: two images would otherwise often fall in one hash split.
  rows = {'missing': 'a.png,A box.,train\nnot_there.png,A cat.,test\n',
          'empty': 'a.png,   ,train\n'}
  header = 'picture,text\n' if case == 'bad_header' else 'image,caption,split\n'
  if case == 'not_an_image':
    (photos / 'b.png').write_text('not an image')
  if case != 'no_file':
    (photos / 'captions.csv').write_text(
        header + rows.get(case, 'a.png,A box.,train\nb.png,A cat.,test\n'))
  if case == 'two_files':
    (photos / 'captions.json').write_text('{}')
  with pytest.raises(errors.DataNotFoundError, match=match):
    build(photos, tmp_path)


# --- launch.get_data tuxpaint_stamps, on a tiny generated .deb ---------------------------

STAMPS = get.TUXPAINT_STAMPS


def tiny_tuxpaint_deb(tmp_path, *, count=3, first_line='A red flower.'):
  files = {}
  for i in range(count):
    rgba = np.zeros((12, 10, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 255
    files[f'{STAMPS}plants/flower{i}.png'] = image_bytes(rgba, 'PNG')
    files[f'{STAMPS}plants/flower{i}.txt'] = (
        f'{first_line if i == 0 else f"Flower number {i}."}\nfr.utf8=Une fleur.\n').encode()
  files[f'{STAMPS}vehicles/car.svg'] = b'<svg/>'  # SVG-only: left out
  files[f'{STAMPS}vehicles/car.txt'] = b'A car.\n'
  files[f'{STAMPS}vehicles/car.ogg'] = b'OggS'
  return make_deb(tmp_path / 'tuxpaint-stamps-default_2022.06.04-1_all.deb', files)


def test_tuxpaint_stamps_writes_each_png_stamp_with_its_english_caption(tmp_path, monkeypatch):
  monkeypatch.setattr(get, 'TUXPAINT_MIN_STAMPS', 3)
  deb = tiny_tuxpaint_deb(tmp_path)
  out = tmp_path / 'stamps'
  written = get.get('tuxpaint_stamps', str(out), archive=str(deb), expected_sha256=sha256(deb))
  assert sorted(written) == ['captions.json', 'credits.json', 'plants/flower0.png',
                             'plants/flower1.png', 'plants/flower2.png']
  captions = json.loads((out / 'captions.json').read_text())
  assert captions == {'plants/flower0.png': ['A red flower.'],
                      'plants/flower1.png': ['Flower number 1.'],
                      'plants/flower2.png': ['Flower number 2.']}
  assert caption_folder.read_captions(str(out))[0] == captions


def test_tuxpaint_stamps_refuses_another_package(tmp_path, monkeypatch):
  monkeypatch.setattr(get, 'TUXPAINT_MIN_STAMPS', 3)
  deb = tiny_tuxpaint_deb(tmp_path, first_line='fr.utf8=Une fleur.')
  with pytest.raises(errors.DataNotFoundError, match='no English caption'):
    get.get('tuxpaint_stamps', str(tmp_path / 'a'), archive=str(deb), expected_sha256=sha256(deb))
  deb = tiny_tuxpaint_deb(tmp_path, count=2)
  with pytest.raises(errors.DataNotFoundError, match='2 captioned PNG stamps'):
    get.get('tuxpaint_stamps', str(tmp_path / 'b'), archive=str(deb), expected_sha256=sha256(deb))


# --- launch.get_data openclipart, on two tiny generated .debs ------------------------------

def svg_with(title='', description=''):
  dc = f'<dc:title>{title}</dc:title>' if title else ''
  dc += f'<dc:description>{description}</dc:description>' if description else ''
  return (f'<svg><metadata><rdf:RDF><cc:Work>{dc}</cc:Work></rdf:RDF></metadata>'
          '<rect/></svg>').encode()


def tiny_openclipart_debs(tmp_path):
  png, svg = get.OPENCLIPART_PNG, get.OPENCLIPART_SVG
  pixel = image_bytes(np.full((6, 5, 4), 255, np.uint8), 'PNG')
  other = image_bytes(np.zeros((6, 5, 4), np.uint8), 'PNG')
  pngs = {f'{png}animals/cat_01.png': pixel, f'{png}food/apple_pie.png': other,
          f'{png}food/untitled.png': other, f'{png}food/no_render.txt': b''}
  png_links = {f'{png}animals/pets/cat_01.png': '../cat_01.png',  # the same drawing, twice
               f'{png}animals/cat_02.png': 'cat_01.png'}          # another drawing's render
  svgs = {f'{svg}animals/cat_01.svg': svg_with('A cat', 'A cat sitting on a mat'),
          f'{svg}animals/cat_02.svg': svg_with('Sleepy &amp; grey cat', 'cat'),
          f'{svg}food/apple_pie.svg': svg_with('Apple Pie', 'Apple pie.'),
          f'{svg}food/untitled.svg': svg_with('', 'A drawing without a title'),
          f'{svg}food/missing.svg': svg_with('No render for this one')}
  svg_links = {f'{svg}animals/pets/cat_01.svg': '../cat_01.svg'}
  return (make_deb(tmp_path / 'openclipart-png_0.18+dfsg-19_all.deb', pngs, links=png_links),
          make_deb(tmp_path / 'openclipart-svg_0.18+dfsg-19_all.deb', svgs, links=svg_links))


def test_openclipart_writes_each_titled_render_once_with_every_drawings_captions(
    tmp_path, monkeypatch):
  # The Debian layout: svg/ and png/ trees, a drawing filed under several
  # categories by symbolic links, two drawings sharing one render. Each
  # render is written once (no picture in two splits), with the captions of
  # every drawing that has it; untitled drawings and those without a render
  # are left out; a description repeating the title or of one word is not a
  # second caption.
  monkeypatch.setattr(get, 'OPENCLIPART_MIN_DRAWINGS', 2)
  debs = tiny_openclipart_debs(tmp_path)
  out = tmp_path / 'openclipart'
  written = get.get('openclipart', str(out), archive=list(debs),
                    expected_sha256=[sha256(d) for d in debs])
  assert sorted(written) == ['animals/cat_01.png', 'captions.json', 'credits.json',
                             'food/apple_pie.png']
  captions = json.loads((out / 'captions.json').read_text())
  assert captions == {'animals/cat_01.png': ['A cat', 'A cat sitting on a mat',
                                             'Sleepy & grey cat'],
                      'food/apple_pie.png': ['Apple Pie']}
  assert caption_folder.read_captions(str(out))[0] == captions
  monkeypatch.setattr(get, 'OPENCLIPART_MIN_DRAWINGS', 3)
  with pytest.raises(errors.DataNotFoundError, match='2 titled drawings'):
    get.get('openclipart', str(tmp_path / 'b'), archive=list(debs),
            expected_sha256=[sha256(d) for d in debs])
  assert not (tmp_path / 'b').exists() or not any((tmp_path / 'b').rglob('*.png'))
