"""Image losses: predicted images ``(N, C, H, W)`` against target images of the same shape."""

__all__ = []
