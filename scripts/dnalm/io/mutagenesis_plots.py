"""A region's mutagenesis as a picture: a heat map of the 4 × L substitution effects over a
sequence logo of each reference base's importance (logomaker), one PNG per region."""

import numpy as np

from dnalm.io.plotting import pyplot
from dnalm.io.sequences import BASES
LONGEST_LABELLED = 120  # up to this many bases, each is labelled under the heat map


def plot_region(path, title, sequence, matrix, importance, effect_label):
    """``matrix`` is 4 × L (rows A, C, G, T); ``importance`` one value per base."""
    import logomaker
    import pandas as pd

    plt = pyplot()
    length = len(sequence)
    width = min(max(8.0, length / 8), 40.0)
    figure, (logo_axes, heat_axes) = plt.subplots(
        2, 1, figsize=(width, 4.5), sharex=True, layout="constrained",
        gridspec_kw={"height_ratios": [1, 1.2]})
    letters = pd.DataFrame(0.0, index=range(length), columns=list(BASES))
    for position, base in enumerate(sequence):
        if base in BASES and not np.isnan(importance[position]):
            letters.loc[position, base] = importance[position]
    logomaker.Logo(letters, ax=logo_axes, color_scheme="classic")
    logo_axes.axhline(0, color="grey", linewidth=0.5)
    logo_axes.set_ylabel("importance")
    logo_axes.set_title(title)
    limit = float(np.nanmax(np.abs(matrix))) or 1.0
    image = heat_axes.imshow(matrix, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit,
                             extent=(-0.5, length - 0.5, len(BASES) - 0.5, -0.5),
                             interpolation="nearest")
    heat_axes.set_yticks(range(len(BASES)), list(BASES))
    heat_axes.set_ylabel("substituted by")
    if length <= LONGEST_LABELLED:
        heat_axes.set_xticks(range(length), list(sequence), fontsize=6)
    heat_axes.set_xlabel("reference base (position in the region)")
    colorbar = figure.colorbar(image, ax=[logo_axes, heat_axes], shrink=0.6, pad=0.01)
    colorbar.set_label(effect_label)
    figure.savefig(path, dpi=100, format="png")
    plt.close(figure)
