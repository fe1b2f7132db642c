# The two set-up commands of the README, and the pieces they are made of.
#   make demo   local stack up, pipeline over a synthetic day, readable summary
#   make test   the whole test suite (unit, agent, integration on the real local stack)
# S2C_SECURE=1 make demo: the same through the secured stack (SASL_SSL, SCRAM users and ACLs per
# role); its tests are tests/integration/security, which start their own secured stack.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo test test-unit stack-up stack-down stack-status

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "s2c needs Python 3.11 (set PYTHON=/path/to/python3.11)")'
	$(PYTHON) -m venv $(VENV)
	@echo "make: installing s2c and its Python dependencies into $(VENV) (log: $(VENV)/pip.log)"
	@{ $(BIN)/pip install -q --upgrade pip setuptools wheel && $(BIN)/pip install -q -e '.[test]'; } \
		> $(VENV)/pip.log 2>&1 || { cat $(VENV)/pip.log; echo "make: installing the Python dependencies failed (pip's messages above, also in $(VENV)/pip.log)"; exit 1; }
	touch $@

demo: install
	deploy/local/stack start
	$(BIN)/s2c demo

test: install
	$(BIN)/pytest -q -p no:cacheprovider

test-unit: install
	$(BIN)/pytest -q -m "not integration" -p no:cacheprovider

stack-up: install
	deploy/local/stack start

stack-down:
	deploy/local/stack stop

stack-status:
	deploy/local/stack status
