"""Pictures of a classifier's predictions: a confusion matrix and ROC curves."""

import numpy as np

from dnalm.io.plotting import pyplot


def plot_confusion_matrix(matrix, class_names, path):
    plt = pyplot()
    size = max(4, 0.6 * len(class_names) + 2)
    figure, axes = plt.subplots(figsize=(size, size))
    axes.imshow(matrix, cmap="Blues")
    ticks = np.arange(len(class_names))
    axes.set_xticks(ticks, class_names, rotation=45, ha="right")
    axes.set_yticks(ticks, class_names)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    threshold = matrix.max() / 2 if matrix.size else 0
    for (row, column), count in np.ndenumerate(matrix):
        axes.text(column, row, str(count), ha="center", va="center",
                  color="white" if count > threshold else "black")
    axes.set_title("Confusion matrix")
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=100)
    plt.close(figure)


def plot_roc(true, probabilities, class_names, path):
    """One ROC curve for two classes (class 1); one per class, one-vs-rest, for more."""
    from sklearn.metrics import roc_auc_score, roc_curve

    plt = pyplot()
    true = np.asarray(true)
    shown = [1] if len(class_names) == 2 else range(len(class_names))
    figure, axes = plt.subplots(figsize=(5, 5))
    for index in shown:
        is_class = (true == index).astype(int)
        if is_class.min() == is_class.max():
            continue  # a class absent from the data has no curve
        false_positive, true_positive, _ = roc_curve(is_class, probabilities[:, index])
        area = roc_auc_score(is_class, probabilities[:, index])
        axes.plot(false_positive, true_positive, label=f"{class_names[index]} (AUROC {area:.3f})")
    axes.plot([0, 1], [0, 1], ":", color="grey")
    axes.set_xlabel("false positive rate")
    axes.set_ylabel("true positive rate")
    axes.set_title("ROC")
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=100)
    plt.close(figure)
