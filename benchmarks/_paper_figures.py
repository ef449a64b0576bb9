"""The seed papers' published figures that RESULTS.md sets beside ours (``../shared/seeds``).

Every number is copied from the paper's table; none of them was measured here. Where the
paper used another data set than the one that installs offline, the report says so next to
the figure.
"""

from __future__ import annotations

from typing import Dict

# SLF paper, Table 1: MNIST test accuracy, 10 restarts averaged.
SLF_TABLE1_MNIST: Dict[str, Dict[str, float]] = {
    "mlp": {"C-E": 0.9806, "Smooth": 0.9811, "L-M Softmax": 0.9817, "L2T-DLF": 0.9831, "ARLF": 0.9814, "SLF": 0.9852},
    "lenet": {"C-E": 0.9902, "Smooth": 0.9906, "L-M Softmax": 0.9912, "L2T-DLF": 0.9923, "ARLF": 0.9906, "SLF": 0.9935},
}

# SLF paper, Table 2: DAC clustering on CIFAR-10 (the paper has no MNIST column), NMI / ARI / ACC,
# keyed by the method of ours that the paper's row corresponds to.
SLF_TABLE2_CIFAR10: Dict[str, Dict[str, float]] = {
    "bce": {"row": "DAC+C-E", "nmi": 0.3959, "ari": 0.3059, "acc": 0.5218},
    "mae": {"row": "DAC+L1", "nmi": 0.4186, "ari": 0.3367, "acc": 0.4584},
    "mse": {"row": "DAC+L2", "nmi": 0.4379, "ari": 0.3399, "acc": 0.4778},
    "l4": {"row": "DAC+L4", "nmi": 0.4062, "ari": 0.3015, "acc": 0.4516},
    "smooth01": {"row": "DAC+Smooth", "nmi": 0.4349, "ari": 0.3274, "acc": 0.4538},
    "adaptive_robust": {"row": "DAC+ARLF", "nmi": 0.3987, "ari": 0.2744, "acc": 0.4607},
    "curriculum": {"row": "DAC+curriculum learning", "nmi": 0.3793, "ari": 0.2802, "acc": 0.4982},
    "slf-softmax": {"row": "DAC+softmax", "nmi": 0.4065, "ari": 0.3135, "acc": 0.5013},
    "slf-joint": {"row": "DAC+SLF", "nmi": 0.4454, "ari": 0.3457, "acc": 0.5400},
}

# SLF paper, Table 3: squared correlation on DPP4 (8,193 molecules), C-E and SLF columns, keyed by our model name.
SLF_TABLE3_DPP4: Dict[str, Dict[str, float]] = {
    "lcn": {"C-E": 0.2250, "SLF": 0.2429},
    "dfn": {"C-E": 0.2140, "SLF": 0.2334},
    "ecc": {"C-E": 0.2490, "SLF": 0.2620},
    "scn": {"C-E": 0.2480, "SLF": 0.2588},
    "gcn": {"C-E": 0.2580, "SLF": 0.2671},
    "chebnet": {"C-E": 0.2650, "SLF": 0.2793},
}

# SLF paper, Table 4: BLEU on IWSLT-14 German-English.
SLF_TABLE4_IWSLT14: Dict[str, Dict[str, float]] = {
    "Transformer": {"C-E": 34.01, "SLF": 35.53},
    "LSTM-1": {"C-E": 27.28, "SLF": 31.02},
    "LSTM-2": {"C-E": 30.86, "SLF": 32.14},
}

# SLF paper, Table 5: mAP (%) on PASCAL VOC 2007 test, trained on 2007+2012.
SLF_TABLE5_VOC: Dict[str, Dict[str, float]] = {
    "YOLO": {"stock": 63.4, "SLF": 65.4},
    "Fast YOLO": {"stock": 52.7, "SLF": 55.1},
    "YOLO VGG-16": {"stock": 66.4, "SLF": 69.6},
}

# MILS paper, Table 1: ResNet-20 on SVHN, test error (%), keyed by our method name.
MILS_TABLE1_SVHN_ERROR: Dict[str, float] = {"ce": 4.29, "multi_margin": 5.25, "mils(ce+multi_margin)": 4.13}

# SLF paper, Fig. 2a: the best number of Gumbel-Softmax samples per data set (the figure's values are not printed).
SLF_FIG2A_BEST_K: Dict[str, int] = {"MNIST": 3, "CIFAR-10": 4}
