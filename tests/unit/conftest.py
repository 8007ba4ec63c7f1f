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


def _patch_module_args_shim():
    """``ansible.module_utils.testing.patch_module_args`` (ansible-core 2.19) for older releases,
    where AnsibleModule reads its arguments from ``basic._ANSIBLE_ARGS`` the same way."""
    import contextlib
    import json
    import types
    from unittest import mock

    from ansible.module_utils import basic

    @contextlib.contextmanager
    def patch_module_args(args=None):
        if not isinstance(args, (dict, type(None))):
            raise TypeError('The `args` arg must be a dict or None.')
        with mock.patch.object(basic, '_ANSIBLE_ARGS', json.dumps(dict(ANSIBLE_MODULE_ARGS=args or {})).encode()):
            yield

    module = types.ModuleType('ansible.module_utils.testing')
    module.patch_module_args = patch_module_args
    return module


try:
    import ansible.module_utils.testing  # noqa: F401,E402 pylint: disable=unused-import,wrong-import-position
except ImportError:  # ansible-core < 2.19
    import ansible.module_utils  # noqa: E402 pylint: disable=wrong-import-position
    ansible.module_utils.testing = sys.modules['ansible.module_utils.testing'] = _patch_module_args_shim()
