"""stochastic-loss: learned loss selection (SLF, MILS) for PyTorch and its model zoos."""

import shutil
import sys
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
# The configs and recipes live in configs/ and travel inside the adapters that use them, as
# OpenMMLab packages ship theirs: mmengine resolves `_base_ = 'slf_mmdet::slf/NAME.py'` from
# slf_mmdet/.mim/configs/slf, and `slf fairseq-recipe NAME` finds slf_fairseq/recipes.
PACKAGED = {
    "adapters/slf_mmdet/.mim/configs/slf": ("configs/mmdet", "*.py"),
    "adapters/slf_fairseq/recipes": ("configs/fairseq", "*.sh"),
}


def package_configs() -> None:
    """Link the packaged folders to configs/ in an editable install, copy them into a built wheel."""
    editable = any(command in sys.argv for command in ("develop", "editable_wheel"))
    for target, (source, pattern) in PACKAGED.items():
        target_dir, source_dir = HERE / target, HERE / source
        if not source_dir.is_dir():  # building from an sdist, which holds the copies already
            continue
        if target_dir.is_symlink() or target_dir.is_file():
            target_dir.unlink()
        elif target_dir.is_dir():
            shutil.rmtree(target_dir)
        target_dir.parent.mkdir(parents=True, exist_ok=True)
        if editable:
            target_dir.symlink_to(Path("../" * target.count("/")) / source, target_is_directory=True)
        else:
            target_dir.mkdir()
            for path in sorted(source_dir.glob(pattern)):
                shutil.copy2(path, target_dir / path.name)


package_configs()

CORE = [
    "torch>=2.1",
    "numpy",
    "tqdm",
    "matplotlib",
    "mlxtend",
    "pillow",
    "scikit-learn",
    "scipy",
]
EXTRAS = {
    # mmengine resolves `_base_ = 'mmdet::...'` through pkg_resources, which setuptools 81 removed;
    # torch 2.13 needs setuptools >= 77.0.3.
    "mmdet": ["mmengine==0.10.7", "mmcv==2.1.0", "mmdet==3.3.0", "tensorboard", "setuptools>=77.0.3,<81"],
    # fairseq-fixed itself is installed with --no-deps (it declares torchaudio, a CUDA
    # build); these are the dependencies it really needs. See README.
    "fairseq": [
        "hydra-core==1.3.2",
        "omegaconf==2.3.0",
        "bitarray",
        "sacrebleu",
        "regex",
        "cython",
        "cffi",
        "packaging",
        "tensorboard",
        # the small real corpus: Moses tokenisation and BPE, as fairseq's translation example
        "sacremoses",
        "subword-nmt",
    ],
    "pyg": ["torch-geometric>=2.5", "rdkit", "datamol"],
    # the loops most PyTorch users train in (slf_lightning, slf_transformers); they keep torch as it is.
    "lightning": ["lightning==2.6.6"],
    "transformers": ["transformers==5.25.0", "accelerate==1.16.0"],
    # build: the wheel test builds the wheel as a user would (python -m build); ruff: `make test` lints first.
    "test": ["pytest>=7", "pytest-timeout", "hypothesis", "build", "ruff==0.17.6"],
    # the documentation site (make docs); CI builds it with warnings as errors.
    "docs": ["sphinx==9.0.4", "furo==2025.12.19", "myst-parser==5.2.0"],
}
EXTRAS["all"] = sorted(
    {req for name in ("mmdet", "fairseq", "pyg", "lightning", "transformers") for req in EXTRAS[name]}
)

# Each host adapter under adapters/ is its own top-level import package (slf_mmdet, ...).
ADAPTERS = find_packages("adapters")
PACKAGE_DIR = {"": "plugins", **{name: "adapters/" + name.replace(".", "/") for name in ADAPTERS}}

setup(
    name="stochastic-loss",
    version="0.2.0",
    description="Learned loss selection (Stochastic Loss Function, MILS) for PyTorch hosts",
    long_description=(HERE / "README.md").read_text(encoding="utf-8") if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    package_dir=PACKAGE_DIR,
    packages=find_packages("plugins") + ADAPTERS,
    package_data={"slf_mmdet": [".mim/model-index.yml", ".mim/configs/slf/*.py"], "slf_fairseq": ["recipes/*.sh"]},
    install_requires=CORE,
    extras_require=EXTRAS,
    entry_points={
        "console_scripts": ["slf = slf.cli:main"],
        # Each adapter's own `slf` subcommand (slf.commands.Command): the core CLI names no adapter.
        "slf.commands": ["graph = slf_pyg.cli:COMMAND", "cluster = slf_dac.cli:COMMAND"],
    },
    license="MIT",
)
