# Two commands a new user types on a fresh Debian machine: `make demo`, `make test`.
# Everything they need (system packages, .venv, the package with GPAW) is installed here.

VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SYSPKG := libxc-dev libopenblas-dev pkg-config postgresql chromium chromium-driver openssh-server

.PHONY: install demo test docs bench lint format clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@dpkg -s $(SYSPKG) >/dev/null 2>&1 || \
	  ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $(SYSPKG))
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	CC=g++ $(PY) -m pip install -q -e '.[gpaw,bader,test,docs]'
	@# pybader compiles itself (numba) on its first import: do it once here.
	HOME=$$(mktemp -d) $(PY) -c "import pybader.interface" >/dev/null
	touch $(STAMP)

demo: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" sh examples/demo.sh

test: $(STAMP)
	$(PY) -m ruff check asr tests benchmarks
	OMP_NUM_THREADS=1 $(PY) -m pytest

# The Sphinx site: docs/_build/html/index.html. Warnings are errors. Recipe
# pages show figures drawn from the demo store if `make demo` left one.
docs: $(STAMP)
	ASR_DOCS_STORE=$${ASR_DOCS_STORE:-$$([ -d demo/.asr ] && echo demo)} \
	  $(PY) -m sphinx -b html -W -n --keep-going -q docs docs/_build/html
	@echo "open docs/_build/html/index.html"

# Each script prints a table of its figures against the targets of its issue.
bench: $(STAMP)
	$(PY) benchmarks/run.py
	$(PY) benchmarks/core.py
	$(PY) benchmarks/startup.py
	$(PY) benchmarks/database.py
	$(PY) benchmarks/webapp.py
	$(PY) benchmarks/workflow.py

lint: $(STAMP)
	$(PY) -m ruff check asr tests benchmarks
	$(PY) -m ruff format --check asr tests benchmarks

format: $(STAMP)
	$(PY) -m ruff format asr tests benchmarks
	$(PY) -m ruff check --fix asr tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info docs/_build docs/recipes
