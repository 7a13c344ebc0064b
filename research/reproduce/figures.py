"""Pictures of a table's finished runs beyond its summary plot, by name
(`Table.figures`): (table, seeds, root) -> the paths written under ROOT/TABLE/."""

from __future__ import annotations

from research import fileio
from research.plots import style
from research.reproduce import runner


def gatys_grid(table, seeds: int, root: str) -> list[str]:
  """ROOT/TABLE/grid.png: the L-BFGS rows' images, photos by paintings; and
  ROOT/TABLE/lbfgs_vs_adam.png: the losses against iterations of the photos
  done by both optimisers."""
  del seeds
  runs = {row.name: runner.run_dir(root, table, row, 0) for row in table.rows}
  results = []
  for row in table.rows:
    if row.name.endswith('L-BFGS'):
      config = runner.load_row_config(row, 0)
      results.append((config.dataset.content, config.dataset.style,
                      fileio.join(runs[row.name], 'stylized.png')))
  pairs = {}
  for row in table.rows:
    if row.name.endswith('Adam'):
      photo = row.name.split(' x ')[0]
      pairs[f'{photo}, L-BFGS'] = runs[row.name[:-len('Adam')] + 'L-BFGS']
      pairs[f'{photo}, Adam'] = runs[row.name]
  out_dir = fileio.join(root, table.name)
  return [style.plot_gatys_grid(results, fileio.join(out_dir, 'grid.png')),
          style.plot_loss_comparison(pairs, fileio.join(out_dir, 'lbfgs_vs_adam.png'))]


FIGURES = {
    'gatys_grid': gatys_grid,
}
