# -*- coding: utf-8 -*-
"""Make ``ansible_collections.phoneprov.mpp`` importable from the work tree for unit tests."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COLLECTIONS = REPO / '.build' / 'collections'
LINK = COLLECTIONS / 'ansible_collections' / 'phoneprov' / 'mpp'
if not LINK.exists():
    LINK.parent.mkdir(parents=True, exist_ok=True)
    LINK.symlink_to(REPO)
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))

# Ansible's collection loader, installed before any test imports the collection (as
# ansible-playbook and ansible-test do): plugins found by name (filter_loader.get('bool'),
# 'phoneprov.mpp.mac') and collection imports then agree.
from ansible.plugins.loader import init_plugin_loader  # noqa: E402 pylint: disable=wrong-import-position

init_plugin_loader([str(COLLECTIONS)])
