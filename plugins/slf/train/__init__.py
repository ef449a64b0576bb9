"""Trainers for plain PyTorch: ``ClassifyConfig``, ``train_classifier``, ``run_classify``, and the
helpers every trainer shares (:mod:`slf.train.common`)."""

from ..intervals import mean_interval, mean_std
from .classify import (
    PAPER_CANDIDATES,
    ClassifyConfig,
    build_criterion,
    build_extra_losses,
    build_mils,
    evaluate_accuracy,
    format_summary_table,
    print_summary_table,
    run_classify,
    summarize_runs,
    train_classifier,
    write_run_plots,
)
from .common import (
    format_table,
    format_top_weights,
    mean_selection_weights,
    seed_everything,
    slf_run_record,
    thin_history,
    top_weight,
)

__all__ = [
    "PAPER_CANDIDATES",
    "ClassifyConfig",
    "build_criterion",
    "build_extra_losses",
    "build_mils",
    "evaluate_accuracy",
    "format_summary_table",
    "format_table",
    "format_top_weights",
    "mean_interval",
    "mean_selection_weights",
    "mean_std",
    "print_summary_table",
    "run_classify",
    "seed_everything",
    "slf_run_record",
    "summarize_runs",
    "thin_history",
    "top_weight",
    "train_classifier",
    "write_run_plots",
]
