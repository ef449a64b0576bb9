"""Regression losses: predictions and targets of one shape ``(N, *)``; per sample = mean over non-batch dims."""

from .adaptive_robust import (
    AdaptiveRobustLoss,
    adaptive_robust_loss,
    log_partition_table,
    robust_log_partition,
)
from .huber import HuberLoss, huber_loss
from .log_cosh import LogCoshLoss, log_cosh_loss
from .mae import MAERegressionLoss, mae_regression_loss
from .mse import MSERegressionLoss, mse_regression_loss
from .robust import RobustLoss, robust_loss, robust_rho

__all__ = [
    "AdaptiveRobustLoss",
    "HuberLoss",
    "LogCoshLoss",
    "MAERegressionLoss",
    "MSERegressionLoss",
    "RobustLoss",
    "adaptive_robust_loss",
    "huber_loss",
    "log_cosh_loss",
    "log_partition_table",
    "mae_regression_loss",
    "mse_regression_loss",
    "robust_log_partition",
    "robust_loss",
    "robust_rho",
]
