# Fiido service desk. `make run` serves the demo; `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
WORKERS ?= 4
PORT ?= 8000
RUN_DIR ?= /tmp/fiido-supervisor
export REDIS_URL ?=

.PHONY: run test lint serve serve-proxied bench faults clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-test: requirements.txt requirements-test.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-test.txt
	touch $(VENV)/.installed $@

## messages: compile the translations (locale/*/LC_MESSAGES/*.po -> .mo; needs GNU gettext's msgfmt)
messages: $(VENV)/.installed
	$(BIN)/python manage.py compilemessages --ignore=$(VENV) --verbosity 0

## translations: update every locale/*/LC_MESSAGES/*.po from the texts the code marks (then translate the new ones)
LOCALES := de fr it es nl pl zh_Hans
translations: $(VENV)/.installed
	for domain in django djangojs; do \
		$(BIN)/python manage.py makemessages -d $$domain $(addprefix -l ,$(LOCALES)) --no-obsolete \
			--ignore='$(VENV)/*' --ignore='bench/*' --ignore='tests/*' --ignore='staticfiles/*'; \
	done

## run: set up and serve http://127.0.0.1:$(PORT) (SQLite, in-memory channel layer)
run: $(VENV)/.installed messages
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

## test: set up and run the whole test suite
test: $(VENV)/.installed-test messages
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## faults: the fault, soak and hostile-input tests, then docs/RELIABILITY.md from their figures
faults: $(VENV)/.installed-test messages
	rm -f $(VENV)/faults.jsonl
	FIIDO_REPORT_JSONL=$(abspath $(VENV))/faults.jsonl $(BIN)/python -m pytest -q tests/e2e/test_faults.py \
		tests/e2e/test_soak.py tests/e2e/test_supervisor.py tests/test_api_fuzz.py tests/test_schemathesis.py \
		tests/e2e/test_body_limit.py tests/e2e/test_stream_caps.py tests/chatbot/test_paging.py \
		tests/e2e/test_sentinel.py tests/e2e/test_redis_shards.py tests/e2e/test_machines.py
	$(BIN)/python -m tests.report $(VENV)/faults.jsonl > docs/RELIABILITY.md

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

## serve: $(WORKERS) daphne workers on one socket under supervisor (needs REDIS_URL)
serve: $(VENV)/.installed messages
	@test -n "$(REDIS_URL)" || (echo "make serve needs REDIS_URL, e.g. REDIS_URL=redis://127.0.0.1:6379/0" && exit 2)
	$(BIN)/python manage.py migrate --noinput
	mkdir -p $(RUN_DIR)
	WORKERS=$(WORKERS) PORT=$(PORT) VENV=$(abspath $(VENV)) RUN_DIR=$(RUN_DIR) $(BIN)/supervisord -n -c deploy/supervisord.conf

## serve-proxied: `make serve` behind nginx: HTTPS and HTTP/2 on LISTEN_PORT (443), HTTP on HTTP_PORT (80) redirects (needs REDIS_URL, CERT, KEY)
# LISTEN_ADDR, LISTEN_PORT, HTTP_PORT, MAX_BODY and HEADER_TIMEOUT, given here or in the
# environment, reach deploy/render-nginx, which holds their defaults.
NGINX_BIN ?= $(shell command -v nginx 2>/dev/null || echo /usr/sbin/nginx)
serve-proxied: $(VENV)/.installed messages
	@test -n "$(REDIS_URL)" || (echo "make serve-proxied needs REDIS_URL, e.g. REDIS_URL=redis://127.0.0.1:6379/0" && exit 2)
	@test -n "$(CERT)" -a -n "$(KEY)" || (echo "make serve-proxied needs CERT and KEY: the TLS certificate chain and its key, PEM files" && exit 2)
	$(BIN)/python manage.py migrate --noinput
	mkdir -p $(RUN_DIR)
	RUN_DIR=$(abspath $(RUN_DIR)) UPSTREAM=127.0.0.1:$(PORT) CERT=$(abspath $(CERT)) KEY=$(abspath $(KEY)) NGINX_BIN=$(NGINX_BIN) deploy/render-nginx
	TRUSTED_PROXIES=$${TRUSTED_PROXIES:-127.0.0.1} WORKERS=$(WORKERS) PORT=$(PORT) VENV=$(abspath $(VENV)) RUN_DIR=$(abspath $(RUN_DIR)) \
		NGINX_BIN=$(NGINX_BIN) $(BIN)/supervisord -n -c deploy/supervisord-nginx.conf

## bench: floor, peer and ours on the shared yardstick -> bench/RESULTS.md, bench/latency.png (BENCH_QUICK=1: smoke scale)
BENCH_VENV ?= /tmp/fiido-bench/venv
$(BENCH_VENV)/.installed: bench/requirements.txt
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet -r bench/requirements.txt
	touch $@

bench: $(VENV)/.installed messages $(BENCH_VENV)/.installed
	PROJECT_PYTHON=$(abspath $(BIN))/python $(BENCH_VENV)/bin/python bench/run.py $(if $(BENCH_QUICK),--quick) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
