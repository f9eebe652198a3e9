# The few commands a user types. Each sets up what it needs first.
#   make book       build the rendered book   -> _build/html/index.html (TRANSFORMERS=4: _build-tf4/_build/html)
#   make test       run the whole test suite (unit tests, every notebook, strict book build, browser test)
#   make lab        open the notebooks in JupyterLab
#   make student    write the student copy of the notebooks (no solutions) -> student/
#   make instructor build the book with solutions hidden entirely -> _build-instructor/html
#   make bench      run the benchmarks -> benchmarks/results.json
# TRANSFORMERS=4 uses transformers 4.57.x (in .venv-tf4) instead of 5.x (in .venv).

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
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JB_STRICT := -W -n --keep-going
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup book test lab student instructor bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned, so pip never reaches for a multi-GB CUDA build
	$(BIN)/python -m pip install --quiet "$$(grep '^torch==' $(CONSTRAINTS))"
	$(BIN)/python -m pip install --quiet -e ".[dev]" -c $(CONSTRAINTS)
	touch $(STAMP)

book: setup
	$(BIN)/jupyter-book build . --path-output $(BUILD) $(JB_STRICT)
	@echo "The book is at $(BUILD)/_build/html/index.html"

test: setup
	$(BIN)/python -m pytest -n 2 tests book --nbmake -m "not browser"
	$(BIN)/jupyter-book build . --path-output $(BUILD) $(JB_STRICT)
	VIT_TUTORIAL_BOOK_HTML=$(BUILD)/_build/html $(BIN)/python -m pytest tests -m browser

lab: setup
	$(BIN)/python -m pip install --quiet "jupyterlab>=4"
	$(BIN)/jupyter lab book/

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

bench: setup
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf _build _build-tf4 _build-instructor student .pytest_cache
