"""stochastic-loss: learned loss selection (SLF, MILS) for PyTorch and its model zoos."""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent

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
    "fairseq": ["hydra-core==1.3.2", "omegaconf==2.3.0", "bitarray", "sacrebleu",
                "regex", "cython", "cffi", "packaging", "tensorboard",
                # the small real corpus: Moses tokenisation and BPE, as fairseq's translation example
                "sacremoses", "subword-nmt"],
    "pyg": ["torch-geometric>=2.5", "rdkit", "datamol"],
    "test": ["pytest>=7", "pytest-timeout", "hypothesis"],
}
EXTRAS["all"] = sorted({req for name in ("mmdet", "fairseq", "pyg") for req in EXTRAS[name]})

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
    install_requires=CORE,
    extras_require=EXTRAS,
    entry_points={
        "console_scripts": ["slf = slf.cli:main"],
        # Each adapter's own `slf` subcommand (slf.commands.Command): the core CLI names no adapter.
        "slf.commands": ["graph = slf_pyg.cli:COMMAND", "cluster = slf_dac.cli:COMMAND"],
    },
    license="MIT",
)
