"""sklearn's real handwritten digits as an mmengine dataset (inputs, data_samples), for small Runner tests."""

from __future__ import annotations

import torch


class DigitsDataset(torch.utils.data.Dataset):
    """The first ``n`` of sklearn's 1,797 8x8 digits, pixels scaled to [0, 1]."""

    def __init__(self, n: int = 384) -> None:
        from sklearn.datasets import load_digits

        digits = load_digits()
        self.x = torch.tensor(digits.data[:n] / 16.0, dtype=torch.float32)
        self.y = torch.tensor(digits.target[:n], dtype=torch.long)
        self.metainfo = dict(classes=list(range(10)))

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict:
        return dict(inputs=self.x[i], data_samples=self.y[i])
