# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every module of the collection does the same way around its backend.

- :func:`create_module` builds the AnsibleModule (check mode is always supported) and fails
  with Ansible's missing-library message when a Python library the module needs on the
  managed host (``cryptography``, ``dnspython``) cannot be imported.
- :func:`pki_argument_spec` adds the options doc_fragments/pki.py documents, spelled once.
- :func:`run_backend` runs the module's backend and is the one place its error is caught.
- :func:`merge_publish` folds what files.publish_file did into the module result.
"""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.phoneprov.mpp.plugins.module_utils import dns_check, pki

# Library name -> the import error (traceback text) of the module_utils that imports it, None when importable.
IMPORT_ERRORS = {
    'cryptography': pki.CRYPTOGRAPHY_IMPORT_ERROR,
    'dnspython': dns_check.DNSPYTHON_IMPORT_ERROR,
}

# The argument spec of each option group of doc_fragments/pki.py (phoneprov.mpp.pki.<group>).
PKI_OPTIONS = {
    'privatekey': dict(privatekey_path=dict(type='path', required=True),
                       privatekey_passphrase=dict(type='str', no_log=True)),
    'backup': dict(backup=dict(type='bool', default=False)),
    'force': dict(force=dict(type='bool', default=False)),
}


def pki_argument_spec(options, *groups):
    """``options`` plus the options of the named ``groups`` of PKI_OPTIONS (privatekey, backup, force)."""
    spec = dict(options)
    for group in groups:
        spec.update(PKI_OPTIONS[group])
    return spec


def create_module(argument_spec, libraries=('cryptography',), **kwargs):
    """An AnsibleModule with check mode; fails when one of ``libraries`` is missing on the managed host.

    ``kwargs`` go to AnsibleModule (``add_file_common_args``, ``required_one_of``, ...).
    """
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True, **kwargs)
    for library in libraries:
        if IMPORT_ERRORS[library] is not None:
            module.fail_json(msg=missing_required_lib(library), exception=IMPORT_ERRORS[library])
    return module


def merge_publish(result, publish, backup_key='backup_file'):
    """Fold one files.publish_file outcome into ``result`` and return ``result``.

    ``changed`` becomes true when the file changed; its backup copy, when one was made, is
    returned as ``backup_key``; its diff joins ``result['diff']``, a list with one entry per
    file (Ansible shows each).
    """
    result['changed'] = bool(result.get('changed')) or publish['changed']
    if 'backup_file' in publish:
        result[backup_key] = publish['backup_file']
    if 'diff' in publish:
        result.setdefault('diff', []).append(publish['diff'])
    return result


def run_backend(module, backend, error_type):
    """Exit with what ``backend(module, result)`` put into ``result``.

    An ``error_type`` error fails the task with its message and the return values found so
    far: the one place a module catches its backend's error.
    """
    result = {}
    try:
        backend(module, result)
    except error_type as exc:
        module.fail_json(**dict(result, msg=to_native(exc)))
    module.exit_json(**result)
