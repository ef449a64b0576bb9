"""Detection losses that read the IoU of each predicted box with its ground truth."""

__all__ = []
