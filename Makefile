# tongban — two commands on a fresh machine: `make demo`, `make test`.
# Both create .venv and install the pinned dependencies (constraints.txt) by themselves.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# setuptools notes, on every editable install with mapped folders, that a folder named like the
# package may shadow it; here the folder tongban/ *is* the package, so the note is silenced
# (that one message only; every other packaging warning still shows, tests/test_packaging.py).
EDITABLE_NOTE := ignore:Editable installation:UserWarning

.PHONY: demo demo-transition test venv constraints clean benchmarks ci fuzz cluster cluster-down

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24" setuptools wheel
	PYTHONWARNINGS="$(EDITABLE_NOTE)" $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[airflow,celery,test]"
	@touch $(STAMP)

demo: venv
	$(BIN)/tongban demo

demo-transition: venv
	$(BIN)/tongban demo --transition

test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The long property-based runs (minutes): the parsers' properties (20 000 examples each) and
# schemathesis against the bus's OpenAPI document (500 random examples per operation, the
# authenticated push included). `make test` runs both with a bounded number of examples.
fuzz: venv
	TONGBAN_FUZZ=long $(BIN)/python -m pytest tests/faults/test_fuzz_parsers.py -q
	TONGBAN_FUZZ_EXAMPLES=500 TONGBAN_FUZZ_RANDOM=1 $(BIN)/python -m pytest tests/security/test_openapi_fuzz.py -q

benchmarks: venv
	$(BIN)/python benchmarks/validate.py

ci:
	bash .ci/run

# A real Airflow on this machine (api-server, scheduler, dag-processor, triggerer, one Celery
# worker) on the local PostgreSQL and Redis, pulling the sandbox: README "Running on Airflow".
cluster: venv
	bash deploy/cluster.sh up

cluster-down:
	bash deploy/cluster.sh down

# Regenerate the pins from the working environment (Airflow's published constraint
# files cannot be downloaded here, so we keep our own).
constraints: venv
	$(BIN)/python -m pip freeze --exclude-editable --disable-pip-version-check | grep -v '^tongban' > constraints.txt

clean:
	rm -rf $(VENV) .tongban build dist *.egg-info
