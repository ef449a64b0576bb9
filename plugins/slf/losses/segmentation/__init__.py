"""Segmentation losses: class scores ``(N, C, *spatial)`` against label maps ``(N, *spatial)``."""

__all__ = []
