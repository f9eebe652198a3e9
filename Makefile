# The few commands a user types. Each sets up what it needs first.
#   make book       build the rendered book   -> _build/html/index.html (TRANSFORMERS=4: _build-tf4/_build/html)
#   make check      the quick tier while you work (a few minutes): ruff, the unit tests that are neither slow nor
#                   browser tests, and the notebooks changed since main (BASE=<git ref> compares with another)
#   make test       run the whole test suite (unit tests, every notebook on random weights and each that loads the
#                   ViT on trained-like weights, strict book build, browser tests: the book, and the explorers live
#                   in JupyterLab)
#   make test-transformers   the part of make test whose result can depend on the transformers major: the unit
#                   tests not marked transformers_free and the notebooks, as in make test.
#                   CI runs make test on 5.x and this on 4.57.x (TRANSFORMERS=4): the rest would be the same work twice
#   make lab        open the notebooks in JupyterLab
#   make student    write the student copy of the notebooks (no solutions) -> student/
#   make otter      export the exercises as otter-grader assignments (Gradescope, otter run) -> otter/
#   make instructor build the book with solutions hidden entirely -> _build-instructor/html
#   make bench      run the benchmarks -> benchmarks/results.json
#   make dist       build the sdist and the wheel -> dist/, and smoke-test exactly those files (what a release publishes)
#   make pdf        the whole book as one PDF, printed by headless Chromium from the HTML build -> _build/pdf/vit-tutorial.pdf
# TRANSFORMERS=4 uses transformers 4.57.x (in .venv-tf4) instead of 5.x (in .venv).
# TORCH=cpu (the default) or TORCH=cuda picks the PyTorch build that setup installs:
#   cpu   on Linux from PyTorch's CPU wheel index (a 192 MB wheel); on macOS and Windows PyPI's own
#         wheel, which has no CUDA anyway. A matching wheel already on this machine is used first.
#   cuda  PyPI's default Linux build: CUDA 13, a 527 MB wheel plus about 2.2 GB of NVIDIA libraries.
# TORCH_INDEX=<url> takes torch from another PyTorch index (e.g. https://download.pytorch.org/whl/cu126).
# To switch builds later: rm -rf .venv (or .venv-tf4), then make setup TORCH=...

PYTHON ?= python3
TRANSFORMERS ?= 5
ifeq ($(TRANSFORMERS),4)
  VENV ?= .venv-tf4
  CONSTRAINTS ?= constraints-transformers4.txt
  BUILD ?= _build-tf4
else
  VENV ?= .venv
  CONSTRAINTS ?= constraints.txt
  BUILD ?= .
endif
TORCH ?= cpu
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LAB_STAMP := $(VENV)/.lab-installed
JB_STRICT := -W -n --keep-going
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup setup-lab book check test lab student instructor bench clean

setup: $(STAMP)
# setup and the lab extra (JupyterLab: make lab, and make test's browser tests)
setup-lab: $(LAB_STAMP)

# PIP_EDITABLE_QUIET: setuptools tells every editable install of a package that sits in the project's root
# folder ("flat layout") that a folder of the package's name may take precedence over it during imports;
# here that folder *is* the package, so the notice (a BuildBackendWarning, shown even with --quiet) is dropped.
PIP_EDITABLE_QUIET := PYTHONWARNINGS="ignore:Editable installation"
# Two setups may run at once (.ci/run sets up both transformers majors side by side). Installing the package from
# this folder rewrites vit_tutorial.egg-info here, so that one short step takes a lock (flock(1), where there is
# one; it waits at most ten minutes). The dependencies then come by the package's name, "vit_tutorial[dev]": pip
# reads them from the editable install just made, and touches nothing in this folder.
SETUP_LOCK := $(shell command -v flock >/dev/null 2>&1 && echo flock --wait 600 pyproject.toml)

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@echo "setup: $(VENV) for transformers $(TRANSFORMERS).x, pinned by $(CONSTRAINTS) (a first install downloads about 1 GB and takes minutes)"
	@test -d $(VENV) || { echo "setup: creating $(VENV)"; $(PYTHON) -m venv $(VENV); }
	@echo "setup: updating pip"
	@$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, alone, at the pinned version and from the build TORCH asks for (see the top of this
	# file); its own dependencies come with the rest, from PyPI, at the versions in $(CONSTRAINTS)
	@$(install_torch)
	@echo "setup: installing vit_tutorial (editable) with the dev extra: transformers, jupyter-book, pytest, ..."
	@$(SETUP_LOCK) env $(PIP_EDITABLE_QUIET) $(BIN)/python -m pip install --quiet --no-deps -e .
	@$(call install_extra,dev)
	@touch $(STAMP)
	@echo "setup: $(VENV) is ready"

# -q: Sphinx's per-file lines and the parsers' configuration dumps are left out; warnings and errors stay, and
# book/_ext/notebook_run.py prints a line per notebook ("notebook 6/13 06_residual (12 s)")
book: setup
	@echo "book: building with $(VENV) (transformers $(TRANSFORMERS).x) into $(BUILD)/_build/html; a notebook runs unless its outputs are cached"
	$(BIN)/jupyter-book build . --path-output $(BUILD) $(JB_STRICT) -q
	@echo "The book is at $(BUILD)/_build/html/index.html (open it from disk, or serve it: python -m http.server -d $(BUILD)/_build/html)"

# The quick tier: what a change to one chapter needs before a commit. The slow tests (the grader's kernels, the
# wheel in a fresh environment, ...) and the browser tests are left to make test.
BASE ?= main
check: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 -q tests -m "not browser and not slow"
	@changed="$$( { git diff --name-only --diff-filter=d $(BASE) -- 'book/*.ipynb'; \
	                git ls-files --others --exclude-standard -- 'book/*.ipynb'; } | sort -u)"; \
	if [ -n "$$changed" ]; then echo "check: the notebooks changed since $(BASE):" $$changed; \
	  $(BIN)/python -m pytest -n 2 -q --nbmake $$changed; \
	else echo "check: no notebook changed since $(BASE)"; fi

# The unit tests come in two sets. Most can depend on the installed transformers (they compare with its modules);
# the modules marked `transformers_free` (the grader's kernels, packaging, the book's words...) cannot: they run
# with tests/without_transformers first on PYTHONPATH, whose `transformers` refuses to import, so a test of that set
# that starts to need transformers fails instead of silently depending on it. CI runs them on one major only.
# --dist loadfile: all the tests of a module run on one worker, so a module-wide fixture (the grader's batch and
# attack catalogue, the otter export, the wheel and its fresh venv) is made once, not once per worker. The modules are
# handed out in the order tests/_module_order.py gives them (--no-loadscope-reorder): the longest first.
# (Not loadgroup: with pytest 9.2 its xdist_group marks are silently ignored, pytest-xdist issue 1386.)
PYTEST_UNIT := $(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder
TRANSFORMERS_FREE := $(shell grep -l '^pytestmark.*transformers_free' tests/test_*.py)
# make test's notebooks (the nbmake runs, and the strict book build) run in kernels forked from a warm process
# (tools/warm_kernel.py): each skips the ~4 s of CPU that importing torch and transformers costs a fresh kernel. Only
# here: make book (a reader's own build) and the grader (in its sandbox) start plain kernels.
WARM_KERNELS := $(abspath $(BUILD)/_build/warm-kernels)
WARM_SPEC := $(WARM_KERNELS)/kernels/python3/kernel.json
# nbmake's runs, each NOTEBOOK::WEIGHTS argument a notebook in a kernel whose VIT_TUTORIAL_WEIGHTS is WEIGHTS
# (tests/_notebook_runs.py: a pytest plugin around nbmake's items), all of them in one xdist run
NOTEBOOK_RUNS := JUPYTER_PATH=$(WARM_KERNELS) $(BIN)/python -m pytest -n 2 -p tests._notebook_runs
# the modules that hold browser tests: the browser phase's workers import only these, not all seventy
BROWSER_MODULES := $(shell grep -l 'pytest.mark.browser' tests/test_*.py)

# The notebooks whose code loads the ViT run again on synthetic trained-like weights (outlier channels, high-norm
# tokens, peaked attention): the book's checks must hold on numbers like a trained model's; those whose checks span
# many layers run on the heavier trained-like profile too (tokens of norm ~4000 that the others attend to), where the
# float64 referee decides, and it must. load_model is the one reader of VIT_TUTORIAL_WEIGHTS and nothing in the
# package calls it (tests/test_test_tiers.py keeps both true), so a notebook that never names it (training the tiny
# model, the JavaScript port) gives the same outputs on any weights: on trained-like weights it would be the same work
# twice. The longest first (benchmarks/results.json): xdist hands them out in this order, so no long one starts last
# and runs alone. TRAINED_LIKE_RUNS for make test (its strict book build runs every notebook on random weights),
# EVERY_RUN for make test-transformers (those, and every notebook on random weights). See tests/_notebook_runs.py.
TRAINED_LIKE_RUNS := $(shell $(PYTHON) tests/_notebook_runs.py trained-like book)
EVERY_RUN := $(shell $(PYTHON) tests/_notebook_runs.py all book)

define test_with_transformers
	$(PYTEST_UNIT) tests -m "not browser and not transformers_free"
	$(NOTEBOOK_RUNS) $(or $(1),$(error tests/_notebook_runs.py found no notebook run in book/))
endef

# the lab extra too: the browser tests open the explorers live in JupyterLab (tests/test_lab.py)
test: setup $(LAB_STAMP) $(WARM_SPEC)
	$(call test_with_transformers,$(TRAINED_LIKE_RUNS))
	PYTHONPATH=tests/without_transformers $(PYTEST_UNIT) $(TRANSFORMERS_FREE) -m "not browser"
	# every notebook on random weights: the strict build executes each one (raise_on_error: a cell that fails
	# fails the build), so no separate nbmake pass runs them first. From scratch: jupyter-cache knows a notebook
	# by its own code only, and would reuse outputs that a change in the package has made wrong. Warm kernels, as
	# for nbmake: their server serves only if its imports printed nothing, so the outputs are a fresh kernel's.
	rm -rf $(BUILD)/_build/.jupyter_cache
	JUPYTER_PATH=$(WARM_KERNELS) $(BIN)/jupyter-book build . --path-output $(BUILD) $(JB_STRICT) -q
	VIT_TUTORIAL_BOOK_HTML=$(BUILD)/_build/html $(BIN)/python -m pytest -n 2 $(BROWSER_MODULES) -m browser

# what CI runs on the second transformers major (see the top of this file): the notebooks on random weights run
# here under nbmake, in the same run as the trained-like ones, as the book build (which also renders them: the same
# work on either major) is not run
.PHONY: test-transformers
test-transformers: setup $(WARM_SPEC)
	$(call test_with_transformers,$(EVERY_RUN))

$(WARM_SPEC): $(STAMP) tools/warm_kernel.py
	$(BIN)/python tools/warm_kernel.py spec $(WARM_KERNELS)

lab: $(LAB_STAMP)
	$(BIN)/jupyter lab book/

# JupyterLab with jupyterlab-myst, so {exercise} blocks render as boxes and {cite} roles as their keys, not raw MyST
$(LAB_STAMP): $(STAMP)
	@echo "setup: installing the lab extra into $(VENV): JupyterLab, jupyterlab-myst"
	@$(call install_extra,lab)
	@touch $(LAB_STAMP)

student: setup
	$(BIN)/python -m vit_tutorial.student student/

instructor: setup
	$(BIN)/python -m vit_tutorial.student --instructor-build _build-instructor

# make grade SUBMISSIONS='hand-ins/*/04_attention.ipynb' [GRADES=grades.json] [TIMEOUT=300]
#   grade hand-ins with the grader's own checks (chapter from each file name) -> table + $(GRADES)
SUBMISSIONS ?= submissions/*/*.ipynb
GRADES ?= grades.json
TIMEOUT ?= 300
.PHONY: grade
grade: setup
	$(BIN)/python -m vit_tutorial.grade $(SUBMISSIONS) --json $(GRADES) --timeout $(TIMEOUT)

# make otter [CHAPTERS='06_residual 07_mlp_encoder'] [OTTER_OUT=otter]
#   per chapter (default: every chapter with exercises) a student notebook and an otter-grader autograder.zip
#   whose tests call the book's checks, with hidden cases -> $(OTTER_OUT)/<chapter>/{student,autograder}
CHAPTERS ?=
OTTER_OUT ?= otter
.PHONY: otter
otter: setup
	$(BIN)/python -m vit_tutorial.course.otter $(CHAPTERS) --out $(OTTER_OUT)

bench: setup
	$(BIN)/python benchmarks/run.py

# The release workflow (.github/workflows/release.yml) runs this on a version tag, then publishes dist/.
# The wheel is installed into a fresh venv and used (tests/test_packaging.py); make test runs this recipe
# in a copy of the tree (tests/test_release.py), so every push dry-runs the release.
.PHONY: dist
dist: setup
	$(BIN)/python -m build --no-isolation --outdir dist .
	VIT_TUTORIAL_DIST=dist $(BIN)/python -m pytest -p no:xdist -p no:cacheprovider tests/test_packaging.py

# make pdf [CHROMIUM=/usr/bin/chromium]: every page of _toc.yml in order, printed from the HTML build (formulas,
# figures, each explorer's first picture), joined with a bookmark per part, chapter and section (tools/book_pdf.py)
CHROMIUM ?= /usr/bin/chromium
PDF ?= $(BUILD)/_build/pdf/vit-tutorial.pdf
.PHONY: pdf
pdf: book
	$(BIN)/python tools/book_pdf.py $(BUILD)/_build/html $(PDF) --chromium $(CHROMIUM)

clean:
	rm -rf _build _build-tf4 _build-instructor student .pytest_cache

# The extras' packages (install_extra,EXTRA): by uv, at its version in $(CONSTRAINTS). The same files from the same
# index (PyPI), pinned by the same constraints; uv unpacks and compiles them on every core where pip uses one: the two
# setups of .ci/run, side by side, take 67 s (98-117 s with pip). By the package's name: uv reads the extras from the
# editable install and builds nothing here (tests/test_test_tiers.py). pip installs them instead with UV=0, where pip's
# configuration names an index of its own (a mirror or proxy: uv does not read pip's configuration), or if uv fails.
UV ?= 1
define install_extra
if [ "$(UV)" = 1 ] && ! $(BIN)/python -m pip config list 2>/dev/null | grep -qE '(^|[.])index-url=' \
    && $(BIN)/python -m pip install --quiet uv -c $(CONSTRAINTS) \
    && $(BIN)/uv pip install --quiet --python $(BIN)/python --compile-bytecode "vit_tutorial[$(1)]" -c $(CONSTRAINTS); then :; \
else \
  echo "setup: pip installs the $(1) extra (UV=0, an index-url in pip's configuration, or uv did not install it)"; \
  $(BIN)/python -m pip install --quiet "vit_tutorial[$(1)]" -c $(CONSTRAINTS); \
fi
endef

# The torch step of setup. With TORCH=cpu a wheel that pip can already find without an index
# (pip's find-links, as on machines that carry a local CPU wheel, or one already in the venv)
# wins, so setup works offline there; otherwise Linux asks PyTorch's CPU index. Where the find-links are in
# PIP_FIND_LINKS, uv installs that wheel (as it does the extras): it unpacks and compiles the 192 MB wheel on every
# core, and a second venv links the files it unpacked for the first (pip: 14 s each, one core).
define install_torch
pin="$$(grep '^torch==' $(CONSTRAINTS))"; \
pip="$(BIN)/python -m pip install --quiet --no-deps"; \
if [ -n "$(TORCH_INDEX)" ]; then \
  echo "setup: $$pin from $(TORCH_INDEX)"; $$pip --index-url "$(TORCH_INDEX)" "$$pin" || exit 1; \
elif [ "$(TORCH)" = cpu ]; then \
  if [ "$(UV)" = 1 ] && [ -n "$${PIP_FIND_LINKS:-}" ] && $(BIN)/python -m pip install --quiet uv -c $(CONSTRAINTS) \
      && UV_FIND_LINKS="$$PIP_FIND_LINKS" $(BIN)/uv pip install --quiet --no-index --no-deps --compile-bytecode \
         --python $(BIN)/python "$$pin" 2>/dev/null; then \
    echo "setup: $$pin found without an index (already installed, or a wheel in PIP_FIND_LINKS), by uv"; \
  elif $$pip --no-index "$$pin" 2>/dev/null; then \
    echo "setup: $$pin found without an index (already installed, or a wheel in pip's find-links)"; \
  elif [ "$$(uname -s)" = Linux ]; then \
    echo "setup: $$pin, CPU build, from $(TORCH_CPU_INDEX)"; \
    $$pip --index-url "$(TORCH_CPU_INDEX)" "$$pin" || { \
      echo "setup: could not get $$pin from $(TORCH_CPU_INDEX)." >&2; \
      echo "  Offline or behind a proxy? Install that torch into $(VENV) by hand and re-run," >&2; \
      echo "  or use TORCH=cuda (PyPI's default build, several GB) or TORCH_INDEX=<url>." >&2; exit 1; }; \
  else \
    echo "setup: $$pin from PyPI (on $$(uname -s) that wheel has no CUDA)"; $$pip "$$pin" || exit 1; \
  fi; \
elif [ "$(TORCH)" = cuda ]; then \
  echo "setup: $$pin from PyPI: on Linux the CUDA 13 build, about 2.7 GB to download"; $$pip "$$pin" || exit 1; \
else \
  echo "setup: TORCH=$(TORCH)? Use TORCH=cpu (the default) or TORCH=cuda, or TORCH_INDEX=<url>." >&2; exit 2; \
fi; \
$(BIN)/python -c "from importlib.metadata import version; print('setup: torch', version('torch'), 'installed')"
endef
