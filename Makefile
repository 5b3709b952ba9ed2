# threenines: two commands on a fresh machine — `make demo` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
DEBS := snmpd snmp haproxy nmap iproute2 poppler-utils libpango-1.0-0 libpangoft2-1.0-0 \
        libharfbuzz-subset0 python3-pysnmp4-mibs \
        prometheus prometheus-blackbox-exporter prometheus-snmp-exporter iptables iputils-ping faketime \
        systemd nghttp2-client \
        chromium
PYTEST_ARGS ?=
# Most tests wait on real processes and networks, not the CPU (a whole run uses about 7 CPU-
# minutes in 7 minutes of four workers): four workers. Tests that use the lab run on one worker,
# in turn (xdist group "lab"); the other root tests (their own namespaces) likewise ("root").
PYTEST_WORKERS ?= 4
# schemathesis gives every API operation the same test id, which xdist would run only once
SERIAL_TESTS := tests/test_api_schemathesis.py

.PHONY: demo test bench bench-quick lint typecheck fmt debs venv clean

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev,pdf]'
	@touch $(STAMP)

venv: $(STAMP)

# Debian packages for real peers (snmpd, HAProxy, ...). Only as root; otherwise tests skip
# (and fail under CI=true).
debs:
	@if [ "$$(id -u)" = 0 ]; then \
	  missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends $$missing >/dev/null; \
	  fi; \
	  systemctl disable --now snmpd >/dev/null 2>&1 || true; \
	  systemctl disable --now prometheus >/dev/null 2>&1 || true; \
	else echo "not root: skipping Debian packages ($(DEBS))"; fi

demo: $(STAMP) debs
	$(PY) -m threenines.demo

test: $(STAMP) debs
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy threenines
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest -q -n $(PYTEST_WORKERS) --dist loadgroup $(addprefix --ignore=,$(SERIAL_TESTS)) $(PYTEST_ARGS)
	$(VENV)/bin/pytest -q -p no:xdist $(SERIAL_TESTS) $(PYTEST_ARGS)

bench: $(STAMP) debs
	$(PY) -m bench

bench-quick: $(STAMP) debs
	$(PY) -m bench --quick

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: $(STAMP)
	$(VENV)/bin/mypy threenines

fmt: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
