# The two commands: `make run` and `make test`. Both set up everything they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
INDEX  ?= index
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test install install-test browser checkers services lint bench clean

# An index from an older schema version is rebuilt from its own archive first.
run: $(VENV)/.installed
	@if [ ! -d "$(INDEX)/whoosh" ]; then $(BIN)/newsdesk ingest seeds/articles --index "$(INDEX)"; \
	elif ! $(BIN)/newsdesk search --index "$(INDEX)" >/dev/null 2>&1; then $(BIN)/newsdesk reindex --index "$(INDEX)"; fi
	$(BIN)/newsdesk serve --index "$(INDEX)" --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-test browser checkers services
	$(BIN)/python -m pytest

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

# Debian's Chromium and ChromeDriver for the browser tests (we are root here;
# elsewhere install them yourself or the browser tests skip with the reason).
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
		else echo "chromium/chromedriver missing: browser tests will skip"; fi; \
	fi

# Debian's PostgreSQL and Redis for the scale-out backend's tests (tests/services.py starts throwaway servers of
# its own on free loopback ports; nothing here starts one). We are root here; elsewhere install them yourself or
# those tests skip with the reason (never in CI, where a missing server fails them). The packages' own scripts
# would start a system cluster on port 5432 and a Redis on 6379: a policy-rc.d that denies every start, put in
# place only if the machine has none and removed after, is Debian's way to keep them stopped.
POLICY_RC := /usr/sbin/policy-rc.d

services:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null || missing="postgresql"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		ours=""; if [ ! -e $(POLICY_RC) ]; then printf '#!/bin/sh\nexit 101\n' > $(POLICY_RC); chmod 755 $(POLICY_RC); ours=1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; status=$$?; \
		if [ -n "$$ours" ]; then rm -f $(POLICY_RC); fi; \
		[ $$status = 0 ] || exit $$status; \
	elif [ -n "$$missing" ]; then \
		echo "$$missing missing: the PostgreSQL/Redis tests will skip (apt-get install postgresql redis-server, or \`make services\` as root)"; \
	fi

# The page checkers of tests/test_html_standards.py, pinned, into .venv/npm: the Nu HTML checker (npm's
# vnu-jar, run with Java) and axe-core; and SpamAssassin for the alert mail (tests/test_alerts.py).
# Debian's Java, Node and npm, or SpamAssassin first if missing (we are root here;
# elsewhere install them yourself or those tests skip with the reason); only what is missing, since Debian's npm
# conflicts with a Node that ships its own. npm scripts stay off: vnu-jar's would download a Java of its own.
VNU_JAR  := 26.9.27
AXE_CORE := 4.14.1
CHECKERS := $(VENV)/npm/.installed-vnu-$(VNU_JAR)-axe-$(AXE_CORE)

checkers: $(CHECKERS)

$(CHECKERS): | $(VENV)/bin/python
	@missing=""; command -v java >/dev/null || missing="default-jre-headless"; \
	command -v npm >/dev/null || missing="$$missing nodejs npm"; \
	command -v spamassassin >/dev/null || missing="$$missing spamassassin"; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi; \
	if ! command -v java >/dev/null || ! command -v npm >/dev/null; then \
		echo "java/npm missing: the HTML standards tests will skip"; \
	else \
		mkdir -p $(VENV)/npm && \
		npm install --prefix $(VENV)/npm --no-save --ignore-scripts --no-audit --no-fund --loglevel=error \
			vnu-jar@$(VNU_JAR) axe-core@$(AXE_CORE) && touch $@; \
	fi

lint: $(VENV)/.installed-test
	$(BIN)/ruff check search web tests bench
	$(BIN)/mypy

# `make bench` runs bench/ingest_search.py; another benchmark with BENCH=NAME (bench/NAME.py) and its options in
# BENCH_ARGS, e.g. `make bench BENCH=scale BENCH_ARGS="--keep /var/tmp/newsdesk-scale"`. Installs the bench extra
# (the peers of bench/scale.py).
BENCH      ?= ingest_search
BENCH_ARGS ?=

bench: $(VENV)/.installed-bench
	$(BIN)/python bench/$(BENCH).py $(BENCH_ARGS)

$(VENV)/.installed-bench: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $(VENV)/.installed $@

clean:
	rm -rf $(VENV) build *.egg-info
