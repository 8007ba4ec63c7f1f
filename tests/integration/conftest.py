# -*- coding: utf-8 -*-
"""pytest fixtures for the integration tests; the harness itself is mpp_harness.py.

Tests, helpers and benches import from ``mpp_harness``, a module name no other directory uses,
so ``pytest tests/unit tests/integration`` collects both in one run.
"""

from __future__ import annotations

from mpp_harness import dns_server, playbook
from testbed import testbed, testbed_hosts

__all__ = ['dns_server', 'playbook', 'testbed', 'testbed_hosts']
