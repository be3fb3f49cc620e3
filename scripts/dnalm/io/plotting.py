"""Figures written to files (PNG): matplotlib with a file-only backend, chosen at the first figure.

Every plot of the suite gets ``pyplot()`` from here, so no module changes
matplotlib's backend merely by being imported.
"""


def pyplot():
    """``matplotlib.pyplot`` drawing to files (Agg): there is no display on a cluster node."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
