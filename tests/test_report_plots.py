"""The report plots' axes: a metric panel never zooms into noise."""

from dnalm.io.plotting import MIN_METRIC_SPAN, pyplot, show_at_least


def y_range(values):
    plt = pyplot()
    figure, axes = plt.subplots()
    axes.plot(range(len(values)), values)
    show_at_least(axes, values)
    low, high = axes.get_ylim()
    plt.close(figure)
    return low, high


def test_flat_accuracy_is_shown_on_a_readable_range():
    # the tiny model's validation accuracy moved by 0.0004: drawn on 0.1, not on 0.0004
    low, high = y_range([0.2501, 0.2497, 0.2499])
    assert high - low >= MIN_METRIC_SPAN - 1e-12
    assert low < 0.2497 and high > 0.2501


def test_range_stays_within_the_metric_scale():
    low, high = y_range([0.999, 1.0])
    assert high <= 1.0 + 1e-12 and high - low >= MIN_METRIC_SPAN - 1e-12
    low, high = y_range([-1.0, -0.9995])
    assert low >= -1.0 - 1e-12


def test_a_wide_range_is_left_to_matplotlib():
    low, high = y_range([0.2, 0.8])
    assert low < 0.2 and high > 0.8 and high - low < 0.7


def test_metrics_that_cannot_be_negative_are_drawn_from_0():
    # a fine-tune's accuracy, F1 and AUROC with an MCC of 0 (one class predicted): from 0, not -0.05
    low, high = y_range([0.5, 0.0, 0.62, 0.0, 0.55, 0.1, 0.7, 1.0])
    assert (low, high) == (0.0, 1.0)
    low, high = y_range([0.0, 0.04])  # narrow, at the bottom of the scale
    assert low == 0.0 and high >= MIN_METRIC_SPAN - 1e-12
    low, high = y_range([-0.3, 0.6])  # a negative MCC keeps the axis below 0
    assert low < -0.3
