# phoneprov.mpp: two commands on a fresh Debian machine
#   make demo   run site.yml on the lab example (localhost, lab CA, dnsmasq and nginx on loopback)
#   make test   unit, integration, ansible-test sanity, ansible-lint (production profile) and the
#               ansible-core matrix (make core-matrix: unit tests and the lab on every declared release)
# Everything each needs is set up here: .venv, Debian packages (when root), the collection link.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
BUILD := $(CURDIR)/.build
COLLECTIONS := $(BUILD)/collections
COLLECTION_LINK := $(COLLECTIONS)/ansible_collections/phoneprov/mpp
SANITY_ROOT := $(BUILD)/sanity/ansible_collections/phoneprov/mpp
DEB_PACKAGES := nginx dnsmasq-base openssl curl gzip mmdebstrap openssh-client debian-archive-keyring
# The fleet report's page is checked in a real headless browser (tests/integration/test_report.py).
DEB_PACKAGES += chromium
export PATH := $(BIN):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_PYTHON_INTERPRETER := $(BIN)/python
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: all setup system-packages testbed-rootfs testbed collection test unit integration sanity lint demo build changelog bench clean core-matrix

all: test

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

# Debian packages: installed with apt-get when root and missing; otherwise reported.
# The test bed of managed hosts (tests/integration/testbed.py, TESTBED.md) needs mmdebstrap (it
# builds the hosts' root file systems), the OpenSSH client and both releases' archive keys;
# openssh-server, sudo and python3 go into each host's root file system, not onto this machine.
TESTBED_RELEASES := bookworm trixie
DEB_COMMANDS := nginx dnsmasq openssl curl gzip mmdebstrap ssh ssh-keygen unshare chroot mount
DEB_COMMANDS += chromium
system-packages:
	@missing=""; \
	for cmd in $(DEB_COMMANDS); do \
	  command -v $$cmd >/dev/null 2>&1 || [ -x /usr/sbin/$$cmd ] || missing="$$missing $$cmd"; \
	done; \
	for release in $(TESTBED_RELEASES); do \
	  [ -f /usr/share/keyrings/debian-archive-$$release-automatic.gpg ] || missing="$$missing $$release-archive-key"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian packages: $(DEB_PACKAGES)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEB_PACKAGES) >/dev/null; \
	  else \
	    echo "missing:$$missing (install the Debian packages $(DEB_PACKAGES))" >&2; exit 1; \
	  fi; \
	fi

# The cached root file systems (.build/testbed/debian-RELEASE-KEY.tar), built when missing or when
# their recipe changed; the tests build them on first use too, this only does it ahead of time.
testbed-rootfs: setup
	@if [ "$$(id -u)" = 0 ]; then $(BIN)/python tests/integration/testbed.py $(TESTBED_RELEASES); \
	else echo "test bed: not root, no root file systems built" >&2; fi

# The test bed's own smoke tests alone (make integration runs them with the rest).
testbed: setup
	$(BIN)/python -m pytest -q tests/integration/test_testbed.py

# The collection is found by ansible through a link in .build/collections (ansible.cfg points there).
collection: $(VENV)/.installed
	@mkdir -p $(dir $(COLLECTION_LINK))
	@ln -sfn $(CURDIR) $(COLLECTION_LINK)

setup: $(VENV)/.installed system-packages collection

# The ansible-core releases the collection declares (README, galaxy.yml, meta/runtime.yml), each
# tested by `make core-matrix` in its own virtual environment, cached under .build/core-<version>
# and rebuilt when requirements.txt changes; the newest is .venv itself. Two pin the library
# versions of the distributions requirements.txt names, so the tests test the minimum: 2.16
# Debian 12's (CORE_LIBRARIES_2.16), 2.17 RHEL 9's, the oldest requirements.txt allows; 2.18 and
# 2.19 have the newest.
CORE_VERSIONS := 2.16 2.17 2.18 2.19
CORE_NEWEST := 2.19
CORE_LIBRARIES_2.16 := cryptography==38.0.4 dnspython==2.3.0
CORE_LIBRARIES_2.17 := cryptography==36.0.1 dnspython==2.1.0
core_venv = $(if $(filter $(CORE_NEWEST),$(1)),$(VENV),$(BUILD)/core-$(1))
CORE_RUNS := $(addprefix core-matrix-,$(CORE_VERSIONS))
.PHONY: $(CORE_RUNS)

$(BUILD)/core-%/.installed: requirements.txt
	test -x $(@D)/bin/python || $(PYTHON) -m venv $(@D)
	$(@D)/bin/python -m pip install --quiet --upgrade pip
	$(@D)/bin/python -m pip install --quiet -r requirements.txt 'ansible-core==$*.*' 'pytest>=8' $(CORE_LIBRARIES_$*)
	touch $@

# One release: the unit tests and the lab end to end (tests/integration/test_core_versions.py:
# first run all phones A, the rerun changed=0), with that release's Python, ansible-playbook and
# libraries; each run's time is printed.
.SECONDEXPANSION:
$(CORE_RUNS): core-matrix-%: $$(call core_venv,$$*)/.installed system-packages collection
	@start=$$(date +%s); python=$(call core_venv,$*)/bin/python; \
	  echo "core-matrix: ansible-core $$($$python -c 'import ansible.release as r; print(r.__version__)')," \
	    "$$($$python -c 'import cryptography, dns.version as d; print("cryptography", cryptography.__version__, "dnspython", d.version)')"; \
	  PATH=$$(dirname $$python):$$PATH ANSIBLE_PYTHON_INTERPRETER=$$python MPP_CORE_VERSION=$* \
	    $$python -m pytest -q -p no:cacheprovider --durations=3 tests/unit tests/integration/test_core_versions.py && \
	  echo "core-matrix: ansible-core $* passed in $$(( $$(date +%s) - start )) s"

core-matrix: $(CORE_RUNS)
	@echo "core-matrix: ansible-core $(CORE_VERSIONS) passed"

unit: setup
	$(BIN)/python -m pytest -q tests/unit

integration: setup
	$(BIN)/python -m pytest -q --durations=25 tests/integration

# ansible-test needs the tree at ansible_collections/phoneprov/mpp: copy the files git knows of.
sanity: setup
	rm -rf $(SANITY_ROOT) && mkdir -p $(SANITY_ROOT)
	git ls-files -z --cached --others --exclude-standard | tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C $(SANITY_ROOT)
	cd $(SANITY_ROOT) && git init -q && git add -A
	@# ansible-test --venv fetches get-pip.py from a host outside the package registries: provide it.
	@pipver=$$(grep -ohP "pip='\K[0-9.]+" $(VENV)/lib/python3*/site-packages/ansible_test/_internal/python_requirements.py | head -1); \
	  cache=$$HOME/.ansible/test/cache/get_pip_$${pipver//./_}.py; \
	  mkdir -p $$(dirname $$cache) && cmp -s tests/sanity/get_pip_offline.py $$cache || cp tests/sanity/get_pip_offline.py $$cache
	cd $(SANITY_ROOT) && $(BIN)/ansible-test sanity --venv --python 3.11 --color no

lint: setup
	$(BIN)/ansible-lint --profile production --offline --nocolor

test: setup unit integration sanity lint core-matrix
	@echo "make test: unit, integration, sanity and lint passed"

# The lab services (dnsmasq on loopback, lab CA, phone certificates), then site.yml.
demo: setup
	$(BIN)/ansible-playbook -i examples/lab/inventory.yml examples/lab/demo.yml

build: setup
	$(BIN)/ansible-galaxy collection build --force --output-path $(BUILD)/dist .

changelog: setup
	$(BIN)/antsibull-changelog lint
	$(BIN)/antsibull-changelog release

# Benchmarks (not part of make test): loopback only, bounded in count and time.
bench: setup
	$(BIN)/python tests/bench/server_handshakes.py
	$(BIN)/python tests/bench/resync_storm.py
	$(BIN)/python tests/bench/profiles_bench.py

clean:
	rm -rf $(BUILD) tests/output .pytest_cache
