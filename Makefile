# The two commands of the README:  `make app`  and  `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: app test lint schemas setup index browser bench eval clean

# Create the virtual environment and install the project (CPU torch; see README).
$(BIN)/kb: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[dev]"
	touch $(BIN)/kb

setup: $(BIN)/kb

# Build or update the index on the shipped corpus, then serve the app, the JSON API (/api/v1) and the widget
# (/widget.js, /examples/practice-page.html) from one process; app.py's st.App loads the model first.
app: setup
	$(BIN)/kb index
	$(BIN)/streamlit run app.py

index: setup
	$(BIN)/kb index

# Headless Chromium for the end-to-end browser test (Debian's package; needs root or sudo).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

test: setup browser
	$(BIN)/python -m pytest -q

# Lint and types: ruff's rules (pyproject.toml), ruff's formatting, mypy on the library; zero findings.
LINTED := kb tests app.py pages tools
lint: setup
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy kb

# Rewrite kb/data/schemas/*.schema.json from the models (after changing a settings or data-file model).
schemas: setup
	$(BIN)/python -m kb.file_schemas

bench: setup
	$(BIN)/kb bench

eval: setup
	$(BIN)/kb eval

clean:
	rm -rf index/ reports/ .pytest_cache
