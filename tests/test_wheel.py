"""The wheel a user installs: built with ``python -m build``, installed in a fresh virtual environment,
and used from there with no checkout in sight: the mmdet configs through ``slf_mmdet::``, the fairseq
user dir and recipes through ``slf``.

The fresh environment sees the test environment's site-packages (torch, mmdet, fairseq: far too
large to install again) through a ``.pth`` path, which does not run that folder's own ``.pth``
files, so the checkout's editable install stays invisible and ``slf`` comes from the wheel alone.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.mmdet, pytest.mark.fairseq]

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("setup.py", "README.md", "plugins", "adapters", "configs")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel built from a copy of the checkout installed in it."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(
                path, source / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
            )
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(path, source / name)
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(work / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
        env=clean_env(),
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (wheel,) = (work / "dist").glob("stochastic_loss-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "slf_mmdet/.mim/configs/slf/yolov3_mobilenetv2_slf_deepforest.py" in names
    assert "slf_mmdet/.mim/model-index.yml" in names and "slf_fairseq/recipes/iwslt14_transformer.sh" in names

    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site / "host_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
        env=clean_env(),
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    return venv


def clean_env() -> dict:
    """This process's environment without what would put the checkout on the path."""
    return {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}


def run_in(venv: Path, *argv: str, cwd: Path) -> str:
    env = clean_env()
    env["PATH"] = str(venv / "bin") + os.pathsep + env.get("PATH", "")
    result = subprocess.run(list(argv), cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_the_packages_come_from_the_wheel(installed, tmp_path):
    printed = run_in(
        installed,
        "python",
        "-c",
        "import slf, slf_mmdet, slf_fairseq, slf_pyg, slf_dac\n"
        "print('\\n'.join(m.__file__ for m in (slf, slf_mmdet, slf_fairseq, slf_pyg, slf_dac)))",
        cwd=tmp_path,
    )
    assert all(line.startswith(str(installed)) for line in printed.split()), printed


def test_an_mmdet_config_builds_on_the_installed_configs(installed, tmp_path):
    (tmp_path / "mine.py").write_text(
        "_base_ = 'slf_mmdet::slf/yolov3_mobilenetv2_slf_deepforest.py'\ntrain_cfg = dict(max_epochs=3)\n"
    )
    script = (
        "import slf_mmdet\n"
        "from mmengine.config import Config\n"
        "from mmengine.registry import init_default_scope, HOOKS, METRICS\n"
        "cfg = Config.fromfile('mine.py')\n"
        "init_default_scope(cfg.default_scope)\n"
        "from mmdet.registry import MODELS\n"
        "model = MODELS.build(cfg.model)\n"
        "print(type(model.bbox_head).__name__, cfg.train_cfg.max_epochs)\n"
        "print(*[type(HOOKS.build(hook)).__name__ for hook in cfg.custom_hooks])\n"
        "print(type(METRICS.build(cfg.val_evaluator)).__name__)\n"
        "print(cfg.filename)\n"
    )
    printed = run_in(installed, "python", "-c", script, cwd=tmp_path).splitlines()
    assert printed[:3] == ["SLFYOLOV3Head 3", "SLFHeldOutHook SLFLoggerHook", "VOCMetric"]


def test_fairseq_finds_the_criterion_and_the_recipes_through_slf(installed, tmp_path):
    user_dir = run_in(installed, "slf", "fairseq-user-dir", cwd=tmp_path).strip()
    assert user_dir.startswith(str(installed)) and Path(user_dir, "criterion.py").is_file()
    help_text = run_in(
        installed,
        "python",
        "-m",
        "fairseq_cli.train",
        "--user-dir",
        user_dir,
        "--criterion",
        "slf",
        "--help",
        cwd=tmp_path,
    )
    # fairseq's --help lists the criteria its registry holds (a criterion's own options come later).
    criteria = re.search(r"\{([^{}]*label_smoothed_cross_entropy[^{}]*)\}", help_text).group(1).split(",")
    assert {"slf", "l2t_dlf"} <= set(criteria)
    recipe = Path(run_in(installed, "slf", "fairseq-recipe", "iwslt14_transformer", cwd=tmp_path).strip())
    assert recipe.is_file() and str(recipe).startswith(str(installed))
    assert (recipe.parent / "iwslt14_common.sh").is_file()  # what the recipe sources beside itself
    listed = run_in(installed, "slf", "fairseq-recipe", cwd=tmp_path).split()
    assert listed == ["iwslt14_common", "iwslt14_lstm1", "iwslt14_lstm2", "iwslt14_prepare", "iwslt14_transformer"]
