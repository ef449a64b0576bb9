"""PNG plots of SLF selection weights, accuracy curves and method comparisons (matplotlib, Agg backend)."""

from .comparison import comparison_axis_limits, plot_confusion_matrix, plot_method_comparison, plot_parity
from .curves import accuracy_curves, plot_curves
from .weights import (
    History,
    RunSource,
    plot_run_weights,
    plot_selection_weight_grid,
    plot_selection_weights,
    weight_histories,
)

__all__ = [
    "History",
    "RunSource",
    "accuracy_curves",
    "comparison_axis_limits",
    "plot_confusion_matrix",
    "plot_curves",
    "plot_method_comparison",
    "plot_parity",
    "plot_run_weights",
    "plot_selection_weight_grid",
    "plot_selection_weights",
    "weight_histories",
]
