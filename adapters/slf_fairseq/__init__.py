"""slf_fairseq: the ``slf`` criterion for fairseq (a ``--user-dir`` package).

Either way registers the criterion once::

    fairseq-train DATA --user-dir "$(slf fairseq-user-dir)" --criterion slf --slf-candidates ...
    python -c "import slf_fairseq"   # then fairseq's Python API sees --criterion slf

fairseq imports a ``--user-dir`` under its folder name, ``slf_fairseq``, the same name
Python uses, so importing both ways never registers it twice. The core package ``slf``
never imports fairseq; only this package does.
"""
from .criterion import SLFCriterion, SLFCriterionConfig

__all__ = ["SLFCriterion", "SLFCriterionConfig"]
