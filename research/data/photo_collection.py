"""Every real colour photograph that Debian 12's packages ship, as a folder of
training photographs for the feed-forward style network (photo_folder).

Johnson et al. (2016) train on COCO; an offline machine has none, but
Debian's packages carry a few hundred photographs: GCompris's activities
(animals, monuments, objects, underwater scenes, musicians), OpenCV's sample
images, desktop wallpapers (Lomiri, MATE, LXQt, KDE Plasma), matplotlib's
and scikit-learn's sample photos. Which files are photographs is decided
here, once, by looking at them: `PACKAGES` lists each one by its path in
the package, and nothing is chosen at run time. Left out on review:
drawings, illustrations, renders, logos, screenshots, text, charts,
calibration boards, cut-outs on transparent backgrounds, grey-scale
pictures, pictures under 256 px on their short side (most of GCompris's
categorization images are 320x240), and near-duplicates (a wallpaper's
other resolutions, the second image of a stereo or registration pair,
OpenCV's tampered copy of ela_original.jpg). scikit-image's photographs are
not here: they are the held-out photos the style networks are shown on
(`launch.get_data photos`).

Every listed file must be in its package, decode, be a colour image (RGB,
or RGBA with at most 1% of its pixels transparent: the alpha is dropped;
a grey picture stored as RGB is refused: `GREY_SPREAD`) and be at
least 256 px on its short side; anything else is one error listing every
problem (the archives are pinned by sha256, so a problem means the pinned
list itself is wrong). Each photo is converted to sRGB and resized
(bicubic, never up) to 320 px on its short side, enough for the 256x256
centre crops photo_folder takes, and written as DIR/SHORT/NAME.png.

Credits (DIR/credits.json, one entry per photo, keyed SHORT/NAME) say what
the package says: package, version, member, original and written size, and
licence and credit as stated in `stated_in`, a file of the package. For
GCompris that is the README beside the images (read here: each listed image
must have its entry); for the others it is written here from the package's
file and checked against it (the credit must appear in that file).
"""

from __future__ import annotations

import dataclasses
import io
import re

import numpy as np

from research import errors, fileio
from research.data import archives

SHORT_SIDE = 320      # px on the short side after resizing (never upscaled)
MIN_SHORT_SIDE = 256  # px: smaller photos are not listed (photo_folder crops 256x256)
# Grey-scale: fewer than GREY_FRACTION of the pixels have colour channels more than
# GREY_SPREAD apart (of 255). Grey pictures stored as RGB (Plasma's ColdRipple, GCompris's
# castleClinton) have none; a dim colour photo (GCompris's swans: white birds on black
# water, 1.1 of 255 apart on average) still has orange beaks.
GREY_SPREAD, GREY_FRACTION = 8, 0.001
MAX_TRANSPARENT = 0.01  # fraction of an RGBA image's pixels that may be transparent


@dataclasses.dataclass(frozen=True)
class Photo:
  member: str     # path in the .deb ('usr/...'); 'RCC:PATH' for a file in a Qt resource file there
  stated_in: str  # the package's file that gives its licence and credit (same form)
  license: str = ''  # as stated_in states it; GCompris's: read from its README
  credit: str = ''   # who, as stated_in says it (checked to appear there); GCompris's: its README
  note: str = ''
  source: str = ''  # where the package says it comes from
  readme_name: str = ''  # GCompris: the image's name in its README


@dataclasses.dataclass(frozen=True)
class Package:
  short: str  # its folder in DIR
  photos: dict[str, Photo]  # NAME -> photo


def snake(name: str) -> str:
  """'greatPyramidOfGiza' -> 'great_pyramid_of_giza'; 'sea1' -> 'sea1'."""
  return re.sub(r'(?<=[a-z0-9])(?=[A-Z])', '_', name).replace('-', '_').lower()


# --- GCompris (Debian gcompris-qt-data) ------------------------------------------------

GCOMPRIS_RCC = 'usr/share/gcompris-qt/rcc/'
# (activity, folder under its resource/ holding the images and their README, name
# prefix, image files without '.webp'). Only GCompris's photographs of at least 256 px:
# categorization's other 112 photographs are smaller (mostly 320x240) and its other
# images drawings; explore_monuments's castleClinton is a grey-scale 1961 aerial view;
# details's Neuschwanstein is another photographer's shot of explore_monuments's from
# the same bridge (near-identical at 256x256) and its other eight pictures are Van
# Gogh's paintings; babyshapes, lang, solar_system, gravity, paintings, chronos,
# leftright and louis-braille hold drawings, cut-outs, paintings or small pictures.
GCOMPRIS_FOLDERS = (
    ('erase', '', 'erase', (
        'alpaca', 'bee', 'butterfly', 'calf', 'camels', 'caterpillar', 'chamaeleon', 'cheetah',
        'crab', 'dolphin', 'flying_fox', 'gibbon', 'giraffe', 'goat', 'gorilla', 'gosling',
        'heron', 'horse', 'kingfisher', 'kitten', 'long_nosed_monkey', 'macaque', 'meerkats',
        'northern_harrier', 'nubian_ibex', 'penguin', 'pika', 'red_panda', 'rhinoceros',
        'spoonbills', 'squirrel', 'swans', 'toucan')),
    ('explore_monuments', '', 'monuments', (
        'egypt/bentPyramid', 'egypt/greatPyramidOfGiza', 'egypt/meidumPyramid', 'egypt/redPyramid',
        'france/arlesAmphitheater', 'france/chateaudeChambord', 'france/chateaudeChenonceau',
        'france/citedeCarcassonne', 'france/eiffelTower', 'france/montStMichel',
        'france/palaisdesPapes', 'france/pontduGard', 'france/reimsCathedral', 'france/rocamadour',
        'germany/aulaPalatina', 'germany/berlinCathedral', 'germany/brandenburgGate',
        'germany/neuschwansteinCastle', 'germany/schwerinPalace', 'germany/trierImperialBaths',
        'germany/wormsCathedral', 'india/ajantaCave', 'india/charminar', 'india/gatewayofIndia',
        'india/goldenTemple', 'india/greatStupa', 'india/hawaMahal', 'india/konarkSunTemple',
        'india/mysorePalace', 'india/qutubMinar', 'india/rangGhar', 'india/victoriaMemorial',
        'usa/cabrillo', 'usa/canyondeChelly', 'usa/castillodeSanMarcos', 'usa/fortSumter',
        'usa/georgeWashingtonBirthplace', 'usa/lincolnMemorial', 'usa/mountRushmore',
        'usa/navajo', 'usa/statueofLiberty', 'wonders/chichenItza', 'wonders/christTheRedeemer',
        'wonders/colosseum', 'wonders/greatWallofChina', 'wonders/machuPicchu', 'wonders/petra',
        'wonders/tajMahal')),
    ('explore_world_animals', 'animals', 'world_animals', (
        'bison', 'chameleon', 'crocodile', 'dragon', 'giraffe', 'hedgehog', 'jaguar', 'kangaroo',
        'koala', 'lemur', 'moose', 'narwhal', 'panda', 'polar_bear', 'scarlet_macaw')),
    ('explore_farm_animals', 'animals', 'farm_animals', (
        'cat', 'chicken', 'cow', 'dog', 'duck', 'horse', 'owl', 'pig', 'sheep')),
    ('explore_world_music', 'music', 'world_music', (
        'africa', 'america', 'australia', 'ireland', 'italy', 'japan', 'mexico', 'middleeast',
        'orchestra')),
    ('clickgame', '', 'clickgame', ('sea1', 'sea2', 'sea3', 'sea4', 'sea5', 'sea6')),
    ('details', 'image', 'details', tuple(f'{p}_background' for p in (
        'Chenonceau', 'EgeskovSlotSpejling', 'EilanDonanCastle', 'FanoeWindmill', 'GizahPyramids',
        'Louvre_2007_02_24_c', 'Nagoya', 'NDP', 'OperaSidney', 'TajMahal', 'TourEiffel',
        'TowerBridgeLondon'))),
    ('categorization', 'images/others', 'categorization',
     ('baseball', 'spoons', 'volleyball', 'weighingMachine')),
    ('categorization', 'images/alphabets', 'categorization', ('alphabets',)),
    ('categorization', 'images/numbers', 'categorization', ('numbers',)),
    ('categorization', 'images/fishes', 'categorization', ('fish25',)),
    ('categorization', 'images/monuments', 'categorization', ('victoriaMemorial',)),
    ('categorization', 'images/renewable', 'categorization', ('windmill6',)),
    ('categorization', 'images/tools', 'categorization', ('nailCutter', 'spray')),
)
# An image whose README entry spells its name otherwise (the package's misspelling).
GCOMPRIS_README_NAMES = {'germany/aulaPalatina.webp': 'germany/audaPalatina.webp'}


def gcompris_photos() -> dict[str, Photo]:
  photos = {}
  for activity, folder, prefix, files in GCOMPRIS_FOLDERS:
    base = f'{GCOMPRIS_RCC}{activity}.rcc:/gcompris/src/activities/{activity}/resource/'
    base += f'{folder}/' if folder else ''
    for f in files:
      name = f'{prefix}_{snake(f.rsplit("/", 1)[-1].removesuffix("_background"))}'
      photos[name] = Photo(f'{base}{f}.webp', f'{base}README',
                           readme_name=GCOMPRIS_README_NAMES.get(f'{f}.webp', f'{f}.webp'))
  return photos


_README_KEYS = {'copyright': 'credit', 'license': 'license', 'source': 'source',
                'comment': 'note', 'comments': 'note'}
_FILE_NAME = re.compile(r'^[\w./*-]+\.\w+$')


def readme_credits(text: str) -> dict[str, dict[str, str]]:
  """File name -> {credit, license, source, note} from a GCompris README:
  blocks separated by blank lines, each with `Copyright:`, `License:`,
  `Source:` and `Comment(s):` lines and the files it covers (after
  `Files:`, or on lines of their own)."""
  found: dict[str, dict[str, str]] = {}
  for block in re.split(r'\n\s*\n', text.replace('\r\n', '\n')):
    fields, files = {}, []
    for line in block.splitlines():
      key, colon, value = line.partition(':')
      if colon and key.strip().lower() in _README_KEYS:
        fields[_README_KEYS[key.strip().lower()]] = value.strip()
      elif colon and key.strip().lower() == 'files':
        files += value.split()
      elif _FILE_NAME.match(line.strip()):
        files.append(line.strip())
    for f in files:
      found[f] = fields
  return found


# --- Debian's desktop wallpapers and sample images -------------------------------------

def _photos(directory: str, stated_in: str, license: str, entries: dict) -> dict[str, Photo]:
  """NAME -> Photo for files of one `directory` of a .deb: `entries` maps
  NAME -> (file, credit[, note])."""
  return {name: Photo(f'{directory}{file}', stated_in, license, credit, *rest)
          for name, (file, credit, *rest) in entries.items()}


LOMIRI = 'usr/share/doc/lomiri-wallpapers-16.04/copyright'
LOMIRI_PHOTOS = {  # Its 15 but analogpattern (an abstract colour texture) and umang (a render).
    name: Photo(f'usr/share/backgrounds/{file}', LOMIRI, license, credit)
    for name, (file, credit, license) in {
        'bridge': ('Bridge_by_Sander_Klootwijk.jpg', '2018. Sander Klootwijk', 'CC-BY-SA-4.0'),
        'dragonfly': ('Dragonfly_by_Bolly.jpg', '"Bolly", 2018', 'CC-BY-SA-4.0'),
        'picture_0b': ('Picture_0B_by_freespace.jpg', 'Trevor "Freespace", 2018', 'CC-BY-4.0'),
        'picture_1a': ('Picture_1A_by_freespace.jpg', 'Trevor "Freespace", 2018', 'CC-BY-4.0'),
        'wine': ('Wine_by_Jakkub_Mede.jpg', 'Jakub Mede, 2018', 'CC-BY-4.0'),
        'aitzgorri': ('aitzgorri_by_Aitzol_Berasategi.jpg', 'Aitzol Berasategi, 2018', 'CC-BY-4.0'),
        'free': ('free_by_Peter_Nerlich.jpg', 'Peter Nerlich, 2018', 'CC-BY-SA-4.0'),
        'friends': ('friends_by_Aitzol_Berasategi.jpg', 'Aitzol Berasategi, 2018', 'CC-BY-4.0'),
        'greentock': ('greentock_by_Peter_Nerlich.jpg', 'Peter Nerlich, 2018', 'CC-BY-SA-4.0'),
        'life': ('life_by_Aitzol_Berasategi.jpg', 'Aitzol Berasategi, 2018', 'CC-BY-4.0'),
        'picos_de_europa': ('picosdeeuropa_by_Aitzol_Berasategi.jpg', 'Aitzol Berasategi, 2018',
                            'CC-BY-4.0'),
        'seeding': ('seeding_by_Clements_Engelhardt.jpg', 'Clemens Engelhardt, 2018', 'CC0-1.0'),
        'sunset': ('sunset_by_Aitzol_Berasategi.jpg', 'Aitzol Berasategi, 2018', 'CC-BY-4.0'),
    }.items()}

MATE = 'usr/share/doc/mate-backgrounds/copyright'
MATE_PHOTOS = _photos(  # nature/, all 12; abstract/ and desktop/ are artwork.
    'usr/share/backgrounds/mate/nature/', MATE, 'GPL-2+', {
        'aqua': ('Aqua.jpg', '2008, Charles Barbin <barbinch@free.fr>'),
        'blinds': ('Blinds.jpg', '2008, Lennart Poettering <mztabzr@0pointer.de>'),
        'dune': ('Dune.jpg', '2007, Marco Cogoni <cogoni@gmail.com>'),
        'fresh_flower': ('FreshFlower.jpg', '2005, Jens Ansorg <jens@ansorg-web.de>'),
        'garden': ('Garden.jpg', '2008, Charles Barbin <barbinch@free.fr>'),
        'green_meadow': ('GreenMeadow.jpg', '2005, Timothy Schellhase'),
        'lady_bird': ('LadyBird.jpg', '2008, Charles Barbin <barbinch@free.fr>'),
        'rain_drops': ('RainDrops.jpg',
                       '2008, "blackcombwhistler07" <blackcombwhistler07@googlemail.com>'),
        'storm': ('Storm.jpg', '2008, Sergey Nazarov <phearnot@renee.ru>'),
        'two_wings': ('TwoWings.jpg', '2008, Charles Barbin <barbinch@free.fr>'),
        'wood': ('Wood.jpg', '2008, Jean-François Fortin Tam <nekohayo@gmail.com>'),
        'yellow_flower': ('YellowFlower.jpg', '2008, Charles Barbin <barbinch@free.fr>'),
    })

LXQT_DEBIAN = "Debian's copyright file says LGPL-2.1+ (Files: *, 2012-2022 LXQt team)"
LXQT_PHOTOS = _photos(  # Its 11 photographs; the rest are origami, logos and triangles.
    'usr/share/lxqt/wallpapers/', 'usr/share/lxqt/wallpapers/License',
    'CC-BY-SA-3.0 (https://creativecommons.org/licenses/by-sa/3.0/)', {
        'after_the_rain': ('after-the-rain.jpg', 'stefonarch (standreas@riseup.net)', LXQT_DEBIAN),
        'apple_flower': ('appleflower.png', 'stefonarch (standreas@riseup.net)', LXQT_DEBIAN),
        'beam': ('beam.png', 'stefonarch (standreas@riseup.net)', LXQT_DEBIAN),
        'butterfly': ('butterfly.png', 'stefonarch (standreas@riseup.net)', LXQT_DEBIAN),
        'butterfly_kenneth_wimer': ('Butterfly-Kenneth-Wimer.jpg', 'LXQt Project Team',
                                    f'Kenneth Wimer, as its file name says; {LXQT_DEBIAN}'),
        'cloud': ('cloud.png', 'LXQt Project Team', LXQT_DEBIAN),
        'drop': ('drop.png', 'stefonarch (standreas@riseup.net)', LXQT_DEBIAN),
        'flowers': ('flowers.png', 'stefonarch (standreas@riseup.net)', LXQT_DEBIAN),
        'fog': ('fog.jpg', 'stefonarch (standreas@riseup.net)', LXQT_DEBIAN),
        'this_is_not_windows': ('this-is-not-windows.jpg', 'stefonarch (standreas@riseup.net)',
                                LXQT_DEBIAN),
        'valendas': ('Valendas.png', 'LXQt Project Team', LXQT_DEBIAN),
    })

PLASMA_DEBIAN = ("Debian's copyright file says GPL-2+ (Files: *, 2014 KDE Visual Design Group "
                 'http://vdesign.kde.org/)')
PLASMA_PHOTOS = {  # 9 of its 30 (the others are renders and illustrations; ColdRipple
    # and Grey are grey-scale). Each is shipped once; other sizes are links to it.
    name: Photo(f'usr/share/wallpapers/{folder}/contents/images/2560x1600.jpg',
                f'usr/share/wallpapers/{folder}/metadata.json', 'LGPLv3', author, PLASMA_DEBIAN)
    for name, (folder, author) in {
        'by_the_water': ('BytheWater', 'Maciej Wiklo'),
        'colorful_cups': ('ColorfulCups', 'Dmitri Popov'),
        'darkest_hour': ('DarkestHour', 'Risto Saukonpää'),
        'evening_glow': ('EveningGlow', 'Ian Hex'),
        'fallen_leaf': ('FallenLeaf', 'Martin Klapetek'),
        'kite': ('Kite', 'Risto Saukonpää'),
        'one_stands_out': ('OneStandsOut', 'Risto Saukonpää'),
        'path': ('Path', 'Risto Saukonpää'),
        'summer_1am': ('summer_1am', 'Risto Saukonpää'),
    }.items()}

OPENCV = 'usr/share/doc/opencv-doc/copyright'
OPENCV_NOTE = "Debian's copyright file gives no per-image credit for OpenCV's sample images"
OPENCV_PHOTOS = _photos(  # examples/data's photographs, one of each pair; then contrib's.
    'usr/share/doc/opencv-doc/examples/', OPENCV, 'Apache-2.0 AND BSD-3-Clause', {
        name: (file, 'Respective opencv contributors', OPENCV_NOTE) for name, file in {
            'aero1': 'data/aero1.jpg',  # aero3: the same city, for registration
            'aloe': 'data/aloeL.jpg',  # aloeR: its stereo twin
            'apple': 'data/apple.jpg',
            'baboon': 'data/baboon.jpg',
            'board': 'data/board.jpg',
            'building': 'data/building.jpg',
            'butterfly': 'data/butterfly.jpg',
            'chicky': 'data/chicky_512.png',  # RGBA: top row and left column half-transparent
            'ela_original': 'data/ela_original.jpg',  # ela_modified: its tampered copy
            'fruits': 'data/fruits.jpg',
            'graffiti': 'data/graf1.png',  # graf3: the same wall from another angle
            'home': 'data/home.jpg',
            'books': 'data/left.jpg',  # right.jpg: its stereo twin
            'leuven': 'data/leuvenA.jpg',  # leuvenB: the same street
            'licenseplate_motion': 'data/licenseplate_motion.jpg',  # a real motion-blurred photo
            'messi': 'data/messi5.jpg',
            'orange': 'data/orange.jpg',
            'pca_test1': 'data/pca_test1.jpg',
            'rubberwhale': 'data/rubberwhale1.png',  # rubberwhale2: the next video frame
            'smarties': 'data/smarties.png',
            'squirrel': 'data/squirrel_cls.jpg',
            'stuff': 'data/stuff.jpg',
            'plant': 'alphamat/input_images/plant.jpg',
            'monarch_wing': 'dnn_superres/butterfly.png',
            'brick_house': 'reg/home.png',
            'scenetext01': 'text/scenetext01.jpg',  # scenetext_segmented_word*: crops of these
            'scenetext02': 'text/scenetext02.jpg',
            'scenetext03': 'text/scenetext03.jpg',
            'scenetext04': 'text/scenetext04.jpg',
            'scenetext05': 'text/scenetext05.jpg',
            'scenetext06': 'text/scenetext06.jpg',
        }.items()})

MATPLOTLIB_PHOTOS = {'grace_hopper': Photo(
    'usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg',
    'usr/share/doc/python-matplotlib-data/copyright',
    'Matplotlib only uses BSD compatible code, and its license is based on the PSF license.',
    'Copyright (c) 2002 - 2012 John Hunter, Darren Dale, Eric Firing, Michael Droettboom and '
    'the matplotlib development team; 2012 - 2016 The matplotlib development team',
    "Files: * of Debian's copyright file; it says nothing of the photograph's own author")}

SKLEARN = 'usr/lib/python3/dist-packages/sklearn/datasets/images/'
SKLEARN_LICENSE = ('CC-BY-2.0 ("Released under a creative commons license": '
                   'https://creativecommons.org/licenses/by/2.0/)')
SKLEARN_PHOTOS = {
    'china': Photo(f'{SKLEARN}china.jpg', f'{SKLEARN}README.txt', SKLEARN_LICENSE,
                   'Some rights reserved by danielbuechele',
                   source='https://www.flickr.com/photos/danielbuechele/6061409035/'),
    'flower': Photo(f'{SKLEARN}flower.jpg', f'{SKLEARN}README.txt', SKLEARN_LICENSE,
                    'Some rights reserved by danielbuechele',
                    'the README credits danielbuechele but links the photographer '
                    'https://www.flickr.com/photos/vultilion/',
                    source='https://www.flickr.com/photos/vultilion/6056698931/'),
}

# Debian package -> its photographs (the order of get.SOURCES['photo_collection']).
PACKAGES = {
    'gcompris-qt-data': Package('gcompris', gcompris_photos()),
    'opencv-doc': Package('opencv', OPENCV_PHOTOS),
    'lomiri-wallpapers-16.04': Package('lomiri', LOMIRI_PHOTOS),
    'mate-backgrounds': Package('mate', MATE_PHOTOS),
    'lxqt-themes': Package('lxqt', LXQT_PHOTOS),
    'plasma-workspace-wallpapers': Package('plasma', PLASMA_PHOTOS),
    'python-matplotlib-data': Package('matplotlib', MATPLOTLIB_PHOTOS),
    'python3-sklearn': Package('sklearn', SKLEARN_PHOTOS),
}


# --- Reading, checking and writing ---------------------------------------------------------

class _Problem(Exception):
  """One listed photo that is not what the list says; collected, then one error."""


def to_srgb(image):
  """`image` (PIL, RGB) in sRGB: an embedded colour profile other than sRGB
  (scikit-image's rocket.jpg is Adobe RGB) is converted, so every image
  means the same colours to a network that reads pixels as sRGB."""
  from PIL import ImageCms
  icc = image.info.get('icc_profile')
  if icc:
    profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    if 'sRGB' not in ImageCms.getProfileDescription(profile):
      return ImageCms.profileToProfile(image, profile, ImageCms.createProfile('sRGB'),
                                       outputMode='RGB')
  return image


def photo_png(raw: bytes, what: str) -> tuple[bytes, tuple[int, int], tuple[int, int]]:
  """(PNG, original (width, height), written (width, height)) of one listed
  photo: an 8-bit sRGB RGB PNG, SHORT_SIDE px on its short side (bicubic,
  never upscaled). Raises _Problem if it is not a colour photograph of at
  least MIN_SHORT_SIDE px."""
  from PIL import Image, UnidentifiedImageError
  try:
    image = Image.open(io.BytesIO(raw))
    image.load()
  except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
    raise _Problem(f'{what} is not an image PIL can read ({e})') from e
  original = image.size
  if image.mode == 'RGBA':
    transparent = float((np.asarray(image.getchannel('A')) < 255).mean())
    if transparent > MAX_TRANSPARENT:
      raise _Problem(f'{what} has {transparent:.0%} transparent pixels (a cut-out)')
    icc = image.info.get('icc_profile')
    image = image.convert('RGB')  # the colours as they are, alpha dropped
    if icc:
      image.info['icc_profile'] = icc
  if image.mode != 'RGB':
    raise _Problem(f'{what} is PIL mode {image.mode}, expected a colour (RGB) image')
  image = to_srgb(image)
  width, height = original
  if min(original) < MIN_SHORT_SIDE:
    raise _Problem(f'{what} is {width}x{height}, under {MIN_SHORT_SIDE} px on its short side')
  if min(original) > SHORT_SIDE:
    scale = SHORT_SIDE / min(original)
    size = ((SHORT_SIDE, round(height * scale)) if width <= height
            else (round(width * scale), SHORT_SIDE))
    image = image.resize(size, Image.Resampling.BICUBIC)
  pixels = np.asarray(image, dtype=np.int16)
  coloured = float((pixels.max(-1) - pixels.min(-1) > GREY_SPREAD).mean())
  if coloured < GREY_FRACTION:
    raise _Problem(f'{what} is grey-scale (in {coloured:.2%} of its pixels do the colour '
                   f'channels differ by more than {GREY_SPREAD} of 255)')
  buffer = io.BytesIO()
  image.save(buffer, format='PNG')  # no profile to carry: sRGB
  return buffer.getvalue(), original, image.size


def _split(member: str) -> tuple[str, str]:
  """'usr/x.rcc:/a/b.webp' -> ('usr/x.rcc', '/a/b.webp'); 'usr/y.jpg' -> ('usr/y.jpg', '')."""
  deb_path, _, inner = member.partition(':')
  return deb_path, inner


def _normal(text: str) -> str:
  return ' '.join(text.split())


def read_package(blob: bytes, package: Package, debian: tuple[str, str, str]
                 ) -> dict[str, tuple[bytes, dict]]:
  """NAME -> (PNG, credit) for every photo of `package`, from its .deb;
  `debian` is (package, version, .deb file name). Every problem with the
  listed photos is one DataNotFoundError."""
  name, version, label = debian
  wanted = sorted({_split(p.member)[0] for p in package.photos.values()}
                  | {_split(p.stated_in)[0] for p in package.photos.values()})
  files = archives.deb_files(blob, wanted, label)
  rccs = {path: archives.rcc_files(files[path], f'{label}:/{path}')
          for path in wanted if path.endswith('.rcc')}

  def read(member: str) -> bytes | None:
    deb_path, inner = _split(member)
    return rccs[deb_path].get(inner) if inner else files[deb_path]

  problems, out = [], {}
  for photo_name, photo in package.photos.items():
    raw, stated = read(photo.member), read(photo.stated_in)
    if raw is None or stated is None:
      problems.append(f'{photo.member if raw is None else photo.stated_in} is not in it')
      continue
    stated_text = stated.decode('utf-8', errors='replace')
    credit = {'package': name, 'version': version, 'archive': label, 'member': photo.member}
    if photo.readme_name:
      entry = readme_credits(stated_text).get(photo.readme_name)
      if not entry or not entry.get('license'):
        problems.append(f'{photo.stated_in} has no licence for {photo.readme_name}')
        continue
      stated_fields = {'license': entry['license'], 'credit': entry.get('credit', ''),
                       'source': entry.get('source', ''), 'note': entry.get('note', '')}
    else:
      if _normal(photo.credit) not in _normal(stated_text):
        problems.append(f'{photo.stated_in} does not state {photo.credit!r}')
        continue
      stated_fields = {'license': photo.license, 'credit': photo.credit, 'source': photo.source,
                       'note': photo.note}
    try:
      png, original, size = photo_png(raw, photo.member)
    except _Problem as e:
      problems.append(str(e))
      continue
    credit.update({'original_size': f'{original[0]}x{original[1]}',
                   'size': f'{size[0]}x{size[1]}', 'stated_in': photo.stated_in})
    credit.update({k: v for k, v in stated_fields.items() if v})
    out[photo_name] = (png, credit)
  if problems:
    shown = '; '.join(problems[:8]) + (f'; and {len(problems) - 8} more'
                                       if len(problems) > 8 else '')
    raise errors.DataNotFoundError(f'{label}: {shown}: not the expected package.')
  return out


def write(directory: str, photos: dict[str, dict[str, tuple[bytes, dict]]]) -> list[str]:
  """Writes DIR/SHORT/NAME.png for `photos` (SHORT -> NAME -> (PNG, credit)),
  each read back and checked, then DIR/credits.json; returns the paths
  written, relative to DIR. A photo an earlier run wrote (its credits.json
  names it) that is no longer listed is removed, so photo_folder does not
  train on it; other files in DIR are left alone."""
  from PIL import Image
  earlier = {}
  if fileio.isfile(fileio.join(directory, 'credits.json')):
    try:
      earlier = fileio.read_json(fileio.join(directory, 'credits.json'))
    except ValueError:
      earlier = {}
  written, credits = [], {}
  for short, named in photos.items():
    for name, (png, credit) in named.items():
      path = fileio.join(directory, short, f'{name}.png')
      fileio.write_atomically(path, png)
      with Image.open(io.BytesIO(fileio.read_bytes(path))) as back:
        got = (back.mode, f'{back.size[0]}x{back.size[1]}')
      if got != ('RGB', credit['size']):
        raise errors.DataNotFoundError(f'{path}: read back as {got}, written as RGB '
                                       f'{credit["size"]}.')
      written.append(f'{short}/{name}.png')
      credits[f'{short}/{name}'] = credit
  fileio.write_json(fileio.join(directory, 'credits.json'), credits)
  for key in earlier if isinstance(earlier, dict) else ():
    stale = fileio.join(directory, f'{key}.png')
    if key not in credits and re.fullmatch(r'\w+/\w+', key) and fileio.isfile(stale):
      fileio.path(stale).unlink()
  return written + ['credits.json']
