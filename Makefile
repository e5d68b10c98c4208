# pykeepalived — see README.md. Run as root on Debian 12.
PY      ?= python3
VENV    := .venv
VPY     := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
APT_STAMP := $(VENV)/.apt
# parallel workers for the test suite (namespace tests mostly wait on timers)
JOBS    ?= 4

# `make install`: a self-contained installation (a venv) in PREFIX, nothing written outside it unless
# UNITDIR is pointed elsewhere; no service is enabled or started (docs/operations.md, "systemd")
PREFIX  ?= /opt/pykeepalived
UNITDIR ?= $(PREFIX)/lib/systemd/system

.PHONY: all demo test lint bench venv apt clean install

all: test

$(STAMP): pyproject.toml
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -e '.[test]'
	touch $@

venv: $(STAMP)

# Install the Debian packages listed in deps/apt.txt that are missing. The packages' own services
# (nginx, frr, keepalived) are not started by the install (a policy-rc.d for the length of the
# apt-get, only when the host has none), and nothing that already runs is stopped or changed: the
# tests and the demo start their own copies in namespaces with their own files.
$(APT_STAMP): deps/apt.txt | $(STAMP)
	@missing=$$(for p in $$(grep -v '^#' deps/apt.txt); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "apt-get install $$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  guard=; if [ ! -e /usr/sbin/policy-rc.d ]; then \
	    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && guard=1; fi; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; rc=$$?; \
	  [ -z "$$guard" ] || rm -f /usr/sbin/policy-rc.d; \
	  [ $$rc -eq 0 ]; \
	fi
	touch $@

apt: $(APT_STAMP)

demo: $(STAMP) $(APT_STAMP)
	$(VPY) -m pykeepalived.demo

test: $(STAMP) $(APT_STAMP)
	$(VPY) -m pytest -n $(JOBS) tests

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy

bench: $(STAMP) $(APT_STAMP)
	$(VPY) bench/run.py

install:
	@case "$(PREFIX)" in /*) ;; *) echo "make install: PREFIX must be an absolute path" >&2; exit 2;; esac
	@if [ -d "$(PREFIX)" ] && [ ! -e "$(PREFIX)/pyvenv.cfg" ] && [ -n "$$(ls -A "$(PREFIX)")" ]; then \
	  echo "make install: $(PREFIX) is not empty and not a venv: give a new or empty PREFIX" >&2; exit 2; fi
	test -x $(PREFIX)/bin/python || $(PY) -m venv $(PREFIX)
	rm -rf build  # setuptools would put files left there by an earlier build in the wheel
	$(PREFIX)/bin/python -m pip install -q .
	mkdir -p $(PREFIX)/share/doc/pykeepalived $(UNITDIR)
	cp README.md docs/*.md $(PREFIX)/share/doc/pykeepalived/
	# enable_dbus: the interfaces, and the bus policy to copy to /etc/dbus-1/system.d/ (docs/operations.md)
	mkdir -p $(PREFIX)/share/dbus-1/interfaces $(PREFIX)/share/dbus-1/system.d
	cp src/pykeepalived/data/dbus/*.xml $(PREFIX)/share/dbus-1/interfaces/
	cp src/pykeepalived/data/dbus/org.keepalived.Vrrp1.conf $(PREFIX)/share/dbus-1/system.d/
	$(PREFIX)/bin/pykeepalivedctl unit > $(UNITDIR)/pykeepalived.service.new
	mv $(UNITDIR)/pykeepalived.service.new $(UNITDIR)/pykeepalived.service
	@echo "installed $(PREFIX)/bin/pykeepalived; unit: $(UNITDIR)/pykeepalived.service (see docs/operations.md)"

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
