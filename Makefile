# listhygiene: the user's entry points. `make run` and `make test` set everything up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

IN     ?= data/sample/
EVENTS ?= data/events/
CAMPAIGN ?=
OUT    ?= out
ASOF   ?= 2026-11-01T00:00:00Z
DB     ?= .listhygiene/store.duckdb
BENCH_ARGS ?=
EMAIL_BENCH_ARGS ?=
DNS_BENCH_ARGS ?=
SCORE_BENCH_ARGS ?=
ENGINE ?= duckdb

.PHONY: setup run test lint format bench sample clean distclean

setup: $(STAMP)

# Re-installs only when pyproject.toml changes, so a second `make setup` is instant.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

run: setup
	$(BIN)/listhygiene run $(IN) --out $(OUT) --db $(DB) --as-of $(ASOF) \
		$(if $(EVENTS),--events $(EVENTS)) $(if $(CAMPAIGN),--campaign-id $(CAMPAIGN))

test: setup
	sh tests/setup_dns_server.sh
	sh tests/setup_browser.sh
	sh tests/setup_java.sh
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The whole pipeline on 1M contacts and 10M events against a bare DuckDB scan of the
# same files (issue 10's end-to-end case: time, ratio, peak RSS per stage), email
# validation against email-validator row by row (1M), then DNS against a local
# Knot server (20k domains cold and warm), and scoring of 10M events for 1M contacts
# against a bare scan of the events file; results in bench/results/.
# `make bench ENGINE=spark`: the end-to-end case only, on the embedded engine and then on
# Spark (local[2]) with 8 and 32 shards, on the same files (bench/run.py --engine spark).
bench: setup
ifeq ($(ENGINE),spark)
	sh tests/setup_java.sh
	$(BIN)/python bench/run.py --engine spark $(BENCH_ARGS)
else
	$(BIN)/python bench/run.py $(BENCH_ARGS)
	$(BIN)/python bench/emails.py $(EMAIL_BENCH_ARGS)
	$(BIN)/python bench/score.py $(SCORE_BENCH_ARGS)
	sh tests/setup_dns_server.sh
	$(BIN)/python bench/resolve.py $(DNS_BENCH_ARGS)
endif

# Regenerates data/sample/ and data/events/ (deterministic: the bytes do not change).
sample: setup
	$(BIN)/python data/generate_sample.py

clean:
	rm -rf $(OUT) .listhygiene bench/data .pytest_cache .ruff_cache .hypothesis build *.egg-info
	find . -name __pycache__ -type d -prune -not -path './$(VENV)/*' -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
