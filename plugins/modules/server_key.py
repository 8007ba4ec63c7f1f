#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: server_key
short_description: Private key of a Cisco MPP provisioning server
version_added: 0.1.0
description:
  - Creates the private key of an HTTPS provisioning server, the key whose CSR Cisco signs
    with its Server CA (see M(phoneprov.mpp.server_csr)).
  - An existing key that matches O(type) and O(size) (or O(curve)) is kept. It is replaced
    only with O(force=true) or when its type or size differs from the one asked for.
  - A key that cannot be read, or a wrong or missing O(passphrase), is an error; the module
    never replaces such a key silently, since losing a key whose certificate Cisco signed
    costs a new signing round.
  - Keys are written atomically with mode C(0600) unless O(mode) says otherwise; an existing
    key with wider permissions is set to C(0600) (or O(mode)) too.
author:
  - phoneprov.mpp contributors (@phoneprov)
requirements:
  - cryptography >= 3.1 on the managed host
options:
  path:
    description: Path of the private key file (PEM, PKCS#8).
    type: path
    required: true
  type:
    description: Key algorithm.
    type: str
    choices: [rsa, ecc]
    default: rsa
  size:
    description:
      - RSA key size in bits. Ignored for O(type=ecc).
      - V(1024) is refused unless O(allow_weak=true), because the MPP guide's 1024-bit example
        is no longer safe; with O(allow_weak=true) it is accepted with a warning.
    type: int
    choices: [1024, 2048, 3072, 4096]
    default: 2048
  curve:
    description: Elliptic curve for O(type=ecc).
    type: str
    choices: [P-256, P-384]
    default: P-256
  passphrase:
    description:
      - Passphrase that encrypts the key file, and decrypts an existing one.
      - An existing key that is encrypted with another passphrase, or not encrypted while a
        passphrase is given, is an error.
    type: str
  force:
    description: Generate a new key even when the existing one matches.
    type: bool
    default: false
  allow_weak:
    description: Accept a 1024-bit RSA key (with a warning).
    type: bool
    default: false
  backup:
    description: Keep a timestamped copy of a key that gets replaced.
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.files
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The diff never shows key material, only that the key changes.
  platform:
    platforms: posix
seealso:
  - module: phoneprov.mpp.server_csr
  - module: phoneprov.mpp.server_cert
'''

EXAMPLES = r'''
- name: RSA 2048 key for the provisioning server
  phoneprov.mpp.server_key:
    path: /etc/ssl/private/provserver.key

- name: ECC P-384 key, encrypted
  phoneprov.mpp.server_key:
    path: /etc/ssl/private/provserver.key
    type: ecc
    curve: P-384
    passphrase: "{{ vault_provserver_key_passphrase }}"
'''

RETURN = r'''
filename:
  description: Path of the key file (named C(filename), not C(path), so that Ansible does not overwrite RV(size) with the file size).
  type: str
  returned: always
  sample: /etc/ssl/private/provserver.key
type:
  description: Key algorithm.
  type: str
  returned: always
  sample: rsa
size:
  description: Key size in bits (RSA modulus, or the curve size for ECC).
  type: int
  returned: always
  sample: 2048
curve:
  description: Curve of an ECC key, null for RSA.
  type: str
  returned: always
  sample: P-256
fingerprint:
  description:
    - SHA-256 of the DER public key (SubjectPublicKeyInfo), lower-case hex pairs separated by colons.
    - Null in check mode when a new key would be generated.
  type: str
  returned: always
  sample: "3a:9f:0c:...:e1"
reason:
  description: Why a new key was (or in check mode would be) generated.
  type: str
  returned: changed
  sample: existing key is rsa 2048, ecc P-256 was asked for
backup_file:
  description: Copy of the replaced key, when O(backup=true) and a key was replaced.
  type: str
  returned: changed and backup made
  sample: /etc/ssl/private/provserver.key.1234.2026-01-01@10:00:00~
'''

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.phoneprov.mpp.plugins.module_utils import pki
from ansible_collections.phoneprov.mpp.plugins.module_utils.files import publish_file, read_bytes


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            type=dict(type='str', choices=['rsa', 'ecc'], default='rsa'),
            size=dict(type='int', choices=[1024, 2048, 3072, 4096], default=2048),
            curve=dict(type='str', choices=['P-256', 'P-384'], default='P-256'),
            passphrase=dict(type='str', no_log=True),
            force=dict(type='bool', default=False),
            allow_weak=dict(type='bool', default=False),
            backup=dict(type='bool', default=False),
        ),
        add_file_common_args=True,
        supports_check_mode=True,
    )
    if not pki.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib('cryptography'), exception=pki.CRYPTOGRAPHY_IMPORT_ERROR)

    path = module.params['path']
    if module.params['mode'] is None:
        # a private key is 0600 unless asked otherwise, also when it already exists with wider modes
        module.params['mode'] = '0600'
    key_type = module.params['type']
    size = module.params['size']
    curve = module.params['curve']
    passphrase = module.params['passphrase']
    result = dict(changed=False, filename=path, type=key_type,
                  size=size if key_type == 'rsa' else int(curve[2:]),
                  curve=curve if key_type == 'ecc' else None, fingerprint=None)

    if key_type == 'rsa' and size in pki.WEAK_RSA_SIZES:
        if not module.params['allow_weak']:
            module.fail_json(msg='a %d-bit RSA key is weak and refused; use 2048 or more, or set '
                                 'allow_weak: true to accept it' % size, **result)
        module.warn('generating or keeping a weak %d-bit RSA key because allow_weak is true' % size)

    if os.path.isdir(path):
        module.fail_json(msg='path %s is a directory, not a key file' % path, **result)
    existing = read_bytes(path)
    reason = None
    if existing is not None:
        try:
            key = pki.load_private_key(existing, passphrase, what='existing private key %s' % path)
        except pki.PKIError as exc:
            module.fail_json(msg='%s; refusing to replace it (fix the passphrase, or remove the file '
                                 'yourself if the key is really lost)' % exc, **result)
        have_type, have_size, have_curve = pki.key_description(key)
        wanted = (key_type, result['size'], result['curve'])
        if have_type == 'rsa':
            have = ('rsa', have_size, None)
        else:
            have = (have_type, have_size, have_curve)
        if module.params['force']:
            reason = 'force'
        elif have != wanted:
            reason = 'existing key is %s %s, %s %s was asked for' % (
                have_type, have_curve or have_size, key_type, result['curve'] or result['size'])
        else:
            result['fingerprint'] = pki.public_key_fingerprint(key)
            publish = publish_file(module, path, existing, default_mode=0o600, sensitive=True)
            result['changed'] = publish['changed']
            module.exit_json(**result)
    else:
        reason = 'no key at %s' % path

    if module.check_mode:
        result['changed'] = True
        result['reason'] = reason
        if module._diff:  # pylint: disable=protected-access
            result['diff'] = {'before_header': path, 'after_header': path,
                              'before': '' if existing is None else '(sensitive content)\n',
                              'after': '(sensitive content, new key)\n'}
        module.exit_json(**result)

    try:
        key = pki.generate_private_key(key_type, size, curve)
        content = pki.private_key_pem(key, passphrase)
    except pki.PKIError as exc:
        module.fail_json(msg=str(exc), **result)
    publish = publish_file(module, path, content, default_mode=0o600, backup=module.params['backup'],
                           sensitive=True)
    result['changed'] = True
    result['reason'] = reason
    result['fingerprint'] = pki.public_key_fingerprint(key)
    for name in ('backup_file', 'diff'):
        if name in publish:
            result[name] = publish[name]
    module.exit_json(**result)


if __name__ == '__main__':
    main()
