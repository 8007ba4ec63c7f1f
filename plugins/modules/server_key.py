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
  allow_weak:
    description: Accept a 1024-bit RSA key (with a warning).
    type: bool
    default: false
extends_documentation_fragment: [ansible.builtin.files, ansible.builtin.action_common_attributes, phoneprov.mpp.attributes,
                                 phoneprov.mpp.requirements, phoneprov.mpp.pki.force, phoneprov.mpp.pki.backup]
attributes:
  diff_mode:
    details: The diff never shows key material, only that the key changes.
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

from ansible_collections.phoneprov.mpp.plugins.module_utils.module_helper import create_module, pki_argument_spec, run_backend
from ansible_collections.phoneprov.mpp.plugins.module_utils.pki import PKIError
from ansible_collections.phoneprov.mpp.plugins.module_utils.server_key_backend import ensure_server_key

ARGUMENT_SPEC = pki_argument_spec(dict(
    path=dict(type='path', required=True),
    type=dict(type='str', choices=['rsa', 'ecc'], default='rsa'),
    size=dict(type='int', choices=[1024, 2048, 3072, 4096], default=2048),
    curve=dict(type='str', choices=['P-256', 'P-384'], default='P-256'),
    passphrase=dict(type='str', no_log=True),
    allow_weak=dict(type='bool', default=False),
), 'force', 'backup')


def main():
    module = create_module(ARGUMENT_SPEC, add_file_common_args=True)
    run_backend(module, ensure_server_key, PKIError)


if __name__ == '__main__':
    main()
