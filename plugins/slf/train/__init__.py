"""Trainers for plain PyTorch: ``ClassifyConfig``, ``train_classifier``, ``run_classify``."""
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

__all__ = [
    "PAPER_CANDIDATES",
    "ClassifyConfig",
    "build_criterion",
    "build_extra_losses",
    "build_mils",
    "evaluate_accuracy",
    "format_summary_table",
    "print_summary_table",
    "run_classify",
    "summarize_runs",
    "train_classifier",
    "write_run_plots",
]
