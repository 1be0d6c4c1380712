# The two commands of the README:
#   make run   - the single-node server with the demo on http://127.0.0.1:8000/ (no Redis needed)
#   make test  - installs what the suite needs (Python extras, redis-server, chromium) and runs it
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test install install-test system-deps lint js-test py-test docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The distribution was called django-realtime before 0.1.0: an older .venv still has that
# editable install (which also exposed the demo's `project` package); it goes first.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip uninstall -q -y django-realtime 2>/dev/null || true
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip uninstall -q -y django-realtime 2>/dev/null || true
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

run: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(BIN)/daphne -b $(HOST) -p $(PORT) project.asgi:application

system-deps:
	scripts/ensure-system-deps

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# The JavaScript client's unit tests: Node's built-in test runner, no npm packages.
js-test: system-deps
	node --test tests/js/

# The documentation site (Sphinx, MyST Markdown, furo): warnings are errors.
docs: $(VENV)/.installed-test
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html

py-test: $(VENV)/.installed-test system-deps
	$(BIN)/python -m pytest

test: $(VENV)/.installed-test system-deps lint docs js-test py-test

clean:
	rm -rf $(VENV) db.sqlite3 .pytest_cache test-artifacts docs/_build
