# The two commands: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000

.PHONY: setup run test bench lint typecheck lock clean postgres chromium

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c "import sys; assert sys.version_info >= (3, 11), sys.version" || { echo "need Python >= 3.11 as $(PYTHON) (make PYTHON=python3.11)"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: setup
	@echo "Leadflow (embedded) on http://127.0.0.1:$(PORT)  data: ./var  config: deploy/config"
	@echo "In another shell try:  $(BIN)/leadflow demo --url http://127.0.0.1:$(PORT) --count 20"
	@echo "Then:  curl -H 'Authorization: Bearer $${LEADFLOW_API_TOKEN:-dev-token}' http://127.0.0.1:$(PORT)/v1/leads"
	LEADFLOW_API_TOKEN=$${LEADFLOW_API_TOKEN:-dev-token} $(BIN)/leadflow run --port $(PORT) --config deploy/config --data-dir var

# Most tests wait on brokers and servers, not on the CPU: three workers even on two cores.
# The fault and integration tests keep to one worker each (tests/conftest.py).
TEST_WORKERS ?= 3
test: setup lint typecheck postgres chromium
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup --durations=20

# The PostgreSQL tests start their own server (tests/servers.py) from Debian's `postgresql`
# package: installed here where initdb is missing (as root, as CI runs; else it says how).
postgres:
	@if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get -y -q install postgresql; \
	else echo "PostgreSQL is missing: sudo apt-get install postgresql (the tests need initdb, pg_ctl)"; exit 1; fi

# The dashboard's browser test drives Debian's chromium (headless, through Playwright): installed
# here where it is missing (as root, as CI runs; else it says how). Never `playwright install`.
chromium:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get -y -q install chromium; \
	else echo "chromium is missing: sudo apt-get install chromium (the dashboard browser test needs it)"; exit 1; fi

# Benchmarks print JSON; they are run on demand, never by `make test`. Each one's JSON result goes
# to stdout; its logs (the services log every lead, as deployed) to var/bench/NAME.log.
BENCHES := evaluate enrich accounts train publish writer qualifier ingest speed_to_lead
bench: setup
	@mkdir -p var/bench
	@for b in $(BENCHES); do \
		echo "bench_$$b" >&2; \
		$(BIN)/python -m tests.bench.bench_$$b 2> var/bench/$$b.log || { tail -n 30 var/bench/$$b.log; exit 1; }; \
	done

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

# Re-pin every dependency after changing pyproject.toml.
lock:
	rm -rf /tmp/leadflow-lock && $(PYTHON) -m venv /tmp/leadflow-lock
	/tmp/leadflow-lock/bin/pip install --quiet -e '.[dev]'
	/tmp/leadflow-lock/bin/pip freeze --exclude-editable | grep -v '^leadflow' > constraints.txt

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
