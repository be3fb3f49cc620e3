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
    """Let ``axes`` show a range of at least ``span`` around ``values``, within the metrics'
    scale: 0 to 1, or -1 to 1 where a value (an MCC) is negative. Matplotlib's margins alone
    drew an axis from -0.2 for accuracies that cannot go below 0."""
    values = [value for value in values if value is not None and value == value]
    if not values:
        return
    floor = 0.0 if min(values) >= 0 else -1.0
    low, high = min(values), max(values)
    if high - low >= span:
        low, high = axes.get_ylim()
        axes.set_ylim(max(low, floor), min(high, 1.0))
    else:
        middle = (low + high) / 2
        low, high = middle - span / 2, middle + span / 2
        shift = max(0.0, floor - low) - max(0.0, high - 1.0)  # stay within the scale
        axes.set_ylim(low + shift, high + shift)
    for line in axes.get_lines():
        line.set_clip_on(False)  # a point on the scale's edge is drawn whole
