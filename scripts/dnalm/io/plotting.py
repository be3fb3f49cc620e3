"""Figures written to files (PNG): matplotlib with a file-only backend, chosen at the first figure.

Every plot of the suite gets ``pyplot()`` from here, so no module changes
matplotlib's backend merely by being imported; metric panels get their
smallest shown range from ``show_at_least``.
"""


def pyplot():
    """``matplotlib.pyplot`` drawing to files (Agg): there is no display on a cluster node."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


MIN_METRIC_SPAN = 0.1  # a metric axis never zooms in further: noise of 0.001 is not a collapse


def show_at_least(axes, values, span=MIN_METRIC_SPAN):
    """Let ``axes`` show a range of at least ``span`` around ``values`` (metrics in [-1, 1])."""
    values = [value for value in values if value is not None and value == value]
    if not values:
        return
    low, high = min(values), max(values)
    if high - low >= span:
        return
    middle = (low + high) / 2
    low, high = middle - span / 2, middle + span / 2
    shift = max(0.0, -1.0 - low) - max(0.0, high - 1.0)  # stay within [-1, 1]
    axes.set_ylim(low + shift, high + shift)
