# Two entry points: `make demo` (core only) and `make test` (every host).
# Each step leaves a stamp in .venv, so a second run installs nothing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
TORCH := torch==2.13.0
MMCV := mmcv==2.1.0
FAIRSEQ := fairseq-fixed==0.12.3.1
FAIRSEQ_DEPS := hydra-core==1.3.2 omegaconf==2.3.0 bitarray sacrebleu regex cython cffi scikit-learn tqdm packaging

.PHONY: demo test docs install-core install-test clean-venv

demo: $(VENV)/.core
	$(VENV)/bin/slf demo

test: $(VENV)/.test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest

# The site, from docs/ (Markdown pages and the docstrings), into docs/_build/html; warnings are errors.
docs: $(VENV)/.test
	$(PY) -m sphinx -W --keep-going -b html docs docs/_build/html
	@echo "open docs/_build/html/index.html"

install-core: $(VENV)/.core
install-test: $(VENV)/.test

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch is pinned first: anything unpinned would pull several GB of CUDA wheels.
$(VENV)/.torch: | $(PY)
	$(PIP) install $(TORCH)
	touch $@

$(VENV)/.core: $(VENV)/.torch setup.py
	$(PIP) install -e .
	touch $@

# mmcv 2.1.0 has no wheel for this torch: built from source once (about 20 minutes),
# then pip's wheel cache makes later installs instant.
$(VENV)/.mmcv: $(VENV)/.torch
	$(PIP) install "setuptools<70" ninja wheel
	MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=2 $(PIP) install --no-build-isolation $(MMCV)
	touch $@

# fairseq-fixed declares torchaudio (a CUDA build here): install it without dependencies.
$(VENV)/.fairseq: $(VENV)/.torch
	$(PIP) install $(FAIRSEQ_DEPS) "setuptools<70" wheel
	$(PIP) install --no-deps --no-build-isolation $(FAIRSEQ)
	touch $@

# LibMTL is the reference the peer weightings are tested against; it declares torchvision (a CUDA
# build here, and its ops are broken on CPU), which its weighting modules do not use.
LIBMTL := LibMTL==1.1.5

$(VENV)/.test: $(VENV)/.core $(VENV)/.mmcv $(VENV)/.fairseq setup.py Makefile
	$(PIP) install -e ".[all,test,docs]"
	$(PIP) install --no-deps $(LIBMTL)
	touch $@

clean-venv:
	rm -rf $(VENV)
