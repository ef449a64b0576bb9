"""slf_fairseq: the ``slf`` criterion for fairseq, and SLF's peer ``l2t_dlf`` (a ``--user-dir`` package).

Either way registers the criteria once::

    fairseq-train DATA --user-dir "$(slf fairseq-user-dir)" --criterion slf --slf-candidates ...
    python -c "import slf_fairseq"   # then fairseq's Python API sees --criterion slf

fairseq imports a ``--user-dir`` under its folder name, ``slf_fairseq``, the same name
Python uses, so importing both ways never registers it twice. The core package ``slf``
never imports fairseq; only this package does.

Importing it also lets torch >= 2.6 load fairseq checkpoints safely (see below).
"""

import argparse

import torch

from .criterion import SLFCriterion, SLFCriterionConfig
from .l2t_dlf_criterion import L2TDLFCriterion, L2TDLFCriterionConfig

# torch >= 2.6 loads with weights_only=True, and fairseq's checkpoints hold the run's
# argparse.Namespace (a plain attribute bag; the criterion's own state is tensors and
# lists). Allowing that one class lets fairseq-train --restore and fairseq-generate load
# them without turning the safe loader off.
torch.serialization.add_safe_globals([argparse.Namespace])

__all__ = ["L2TDLFCriterion", "L2TDLFCriterionConfig", "SLFCriterion", "SLFCriterionConfig"]
