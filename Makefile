# Two commands a new user types on a fresh Debian machine: `make demo`, `make test`.
# Everything they need (system packages, .venv, the package with GPAW) is installed here.

VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SYSPKG := libxc-dev libopenblas-dev pkg-config postgresql chromium chromium-driver \
          libopenmpi-dev openmpi-bin libfftw3-dev libscalapack-openmpi-dev \
          openssh-server rsync
# GPAW is built the way clusters run it (MPI, FFTW, ScaLAPACK); see the file
# for how to point it at a cluster's own MPI and BLAS.
GPAW_CONFIG ?= $(CURDIR)/gpaw-siteconfig.py

.PHONY: install check-gpaw demo gallery test docs bench lint format clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@# `make install SYSPKG=` skips the Debian packages (a cluster has modules).
	@[ -z "$(SYSPKG)" ] || dpkg -s $(SYSPKG) >/dev/null 2>&1 || \
	  ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $(SYSPKG))
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@# --no-cache-dir: otherwise pip silently reuses a serial GPAW wheel it
	@# built before. A GPAW without MPI/FFTW/ScaLAPACK is rebuilt.
	$(MAKE) -s check-gpaw 2>/dev/null || \
	  GPAW_CONFIG=$(GPAW_CONFIG) $(PY) -m pip install -q --no-cache-dir \
	    --force-reinstall --no-deps gpaw
	$(PY) -m pip install -q -e '.[gpaw,bader,test,docs]'
	$(MAKE) -s check-gpaw
	@# pybader compiles itself (numba) on its first import: do it once here.
	HOME=$$(mktemp -d) $(PY) -c "import pybader.interface" >/dev/null
	touch $(STAMP)

# Fails loudly unless `gpaw info` reports MPI, FFTW and ScaLAPACK.
check-gpaw:
	@info="$$($(VENV)/bin/gpaw info 2>&1)"; ok=yes; \
	for key in 'MPI enabled' 'scalapack' 'FFTW'; do \
	  echo "$$info" | grep -Eq "^$$key +yes" || \
	    { echo "GPAW is built without $$key (see gpaw-siteconfig.py)" >&2; ok=no; }; \
	done; [ $$ok = yes ]

demo: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" sh examples/demo.sh

test: $(STAMP)
	$(PY) -m ruff check asr tests benchmarks
	OMP_NUM_THREADS=1 $(PY) -m pytest

# The Sphinx site: docs/_build/html/index.html. Warnings are errors. The
# recipe pages draw their figures from the Records of one store (default
# demo/; ASR_DOCS_STORE=other/ to use another): `make demo` makes most,
# examples/gallery.py the rest (tiny runs of the recipes the demo does not
# run: 2 minutes of CPU, 9 on a busy 2-core machine, once); both are
# cached, so a second `make docs` computes nothing.
gallery: demo
	OMP_NUM_THREADS=1 $(PY) examples/gallery.py $${ASR_DOCS_STORE:-demo}

docs: gallery
	ASR_DOCS_STORE=$${ASR_DOCS_STORE:-demo} \
	  $(PY) -m sphinx -b html -W -n --keep-going -q docs docs/_build/html
	@echo "open docs/_build/html/index.html"

# Each script prints a table of its figures against the targets of its
# issue. All run, even after one misses a target; make fails at the end,
# naming them.
BENCHMARKS = run core startup database webapp workflow mpi transfer
bench: $(STAMP)
	@missed=; for b in $(BENCHMARKS); do \
	  echo "== benchmarks/$$b.py"; \
	  $(PY) benchmarks/$$b.py || missed="$$missed $$b"; \
	done; \
	echo "== benchmarks/paper_check.py"; \
	OMP_NUM_THREADS=1 $(PY) benchmarks/paper_check.py || missed="$$missed paper_check"; \
	if [ -n "$$missed" ]; then echo "targets missed in:$$missed"; exit 1; fi

lint: $(STAMP)
	$(PY) -m ruff check asr tests benchmarks
	$(PY) -m ruff format --check asr tests benchmarks

format: $(STAMP)
	$(PY) -m ruff format asr tests benchmarks
	$(PY) -m ruff check --fix asr tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info docs/_build docs/recipes
