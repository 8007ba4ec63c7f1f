# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The server_key module's backend: keep the provisioning server's key, or say why it is replaced.

A key that cannot be read (wrong or missing passphrase, not a key) is an error, never replaced:
losing the key whose certificate Cisco signed costs a new signing round. Errors are PKIError.
"""

from __future__ import annotations

import os

from ansible_collections.phoneprov.mpp.plugins.module_utils import pki
from ansible_collections.phoneprov.mpp.plugins.module_utils.files import publish_file, read_bytes
from ansible_collections.phoneprov.mpp.plugins.module_utils.module_helper import merge_publish
from ansible_collections.phoneprov.mpp.plugins.module_utils.pki import PKIError


def replacement_reason(params, existing, wanted):
    """(why the existing key gets replaced, or None to keep it; the key) for the key file content ``existing``.

    ``wanted`` is (type, size, curve) as pki.key_spec gives it. A key that cannot be read is a
    PKIError: it is never replaced.
    """
    path = params['path']
    try:
        key = pki.load_private_key(existing, params['passphrase'], what='existing private key %s' % path)
    except PKIError as exc:
        raise PKIError('%s; refusing to replace it (fix the passphrase, or remove the file '
                       'yourself if the key is really lost)' % exc)
    if params['force']:
        return 'force', key
    have = pki.key_description(key)
    if have != wanted:
        return 'existing key is %s %s, %s %s was asked for' % (have[0], have[2] or have[1], wanted[0], wanted[2] or wanted[1]), key
    return None, key


def ensure_server_key(module, result):
    """Keep or (re)generate the key at ``path``; fills ``result`` (the module's return values)."""
    params = module.params
    path = params['path']
    if params['mode'] is None:
        # a private key is 0600 unless asked otherwise, also when it already exists with wider modes
        params['mode'] = '0600'
    key_type, size, curve = pki.key_spec(params['type'], params['size'], params['curve'])
    result.update(changed=False, filename=path, type=key_type, size=size, curve=curve, fingerprint=None)

    if key_type == 'rsa' and size in pki.WEAK_RSA_SIZES:
        if not params['allow_weak']:
            raise PKIError('a %d-bit RSA key is weak and refused; use 2048 or more, or set '
                           'allow_weak: true to accept it' % size)
        module.warn('generating or keeping a weak %d-bit RSA key because allow_weak is true' % size)
    if os.path.isdir(path):
        raise PKIError('path %s is a directory, not a key file' % path)

    existing = read_bytes(path)
    if existing is None:
        reason = 'no key at %s' % path
    else:
        reason, key = replacement_reason(params, existing, (key_type, size, curve))
        if reason is None:
            result['fingerprint'] = pki.public_key_fingerprint(key)
            result['changed'] = publish_file(module, path, existing, default_mode=0o600, sensitive=True)['changed']
            return result

    result.update(changed=True, reason=reason)
    if module.check_mode:
        if module._diff:  # pylint: disable=protected-access
            result['diff'] = [{'before_header': path, 'after_header': path,
                               'before': '' if existing is None else '(sensitive content)\n',
                               'after': '(sensitive content, new key)\n'}]
        return result
    key = pki.generate_private_key(key_type, params['size'], params['curve'])
    merge_publish(result, publish_file(module, path, pki.private_key_pem(key, params['passphrase']), default_mode=0o600,
                                       backup=params['backup'], sensitive=True))
    result['fingerprint'] = pki.public_key_fingerprint(key)
    return result
