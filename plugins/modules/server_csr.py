#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: server_csr
short_description: Certificate signing request of a Cisco MPP provisioning server
version_added: 0.1.0
description:
  - Writes the CSR of a provisioning server, to be submitted to Cisco's signing portal (or
    signed by M(phoneprov.mpp.lab_ca) in a lab).
  - The subject CN must follow the phones' CN rule - the FQDN of the provisioning server,
    optionally followed by C(/) and free text such as C(pv.telco.net/mailto:admin@telco.net).
    A CN that breaks the rule is refused with the reason.
  - The default subject alternative name is C(DNS:<fqdn>), the FQDN alone, never the whole CN
    with its C(/...) suffix.
  - An existing CSR is kept when its subject, SANs, digest and key are those asked for; it is
    rewritten only when one of them changes, or with O(force=true).
author:
  - phoneprov.mpp contributors (@phoneprov)
requirements:
  - cryptography >= 3.1 on the managed host
options:
  path:
    description: Path of the CSR file (PEM).
    type: path
    required: true
  privatekey_path:
    description: Private key of the server (see M(phoneprov.mpp.server_key)); it must exist.
    type: path
    required: true
  privatekey_passphrase:
    description: Passphrase of the private key.
    type: str
  common_name:
    description:
      - Subject CN - the provisioning server's FQDN, optionally followed by C(/) and free text.
    type: str
    required: true
  subject:
    description:
      - Other subject attributes. Keys C(C), C(ST), C(L), C(O), C(OU), C(emailAddress).
      - A C(CN) key, when given, must equal O(common_name).
    type: dict
    default: {}
  subject_alt_names:
    description:
      - Subject alternative names, written C(DNS:name), C(IP:address), C(email:x) or C(URI:x).
      - Defaults to C(DNS:<fqdn>) where the FQDN is taken from O(common_name).
      - C(DNS) names must be host FQDNs; when any C(DNS) name is given, the FQDN of the CN must
        be among them, since the phone checks it. An empty list writes no SAN extension.
    type: list
    elements: str
  digest:
    description:
      - Signature hash. Cisco's portal offers MD5, SHA1 and SHA256; SHA256 is recommended.
      - V(md5) and V(sha1) are refused unless O(allow_weak=true).
    type: str
    choices: [sha256, sha384, sha512, sha1, md5]
    default: sha256
  allow_weak:
    description: Accept the V(md5) and V(sha1) digests (with a warning).
    type: bool
    default: false
  force:
    description: Write a new CSR even when the existing one matches.
    type: bool
    default: false
  backup:
    description: Keep a timestamped copy of a CSR that gets replaced.
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
  platform:
    platforms: posix
seealso:
  - module: phoneprov.mpp.server_key
  - module: phoneprov.mpp.server_cert
  - module: phoneprov.mpp.lab_ca
'''

EXAMPLES = r'''
- name: CSR for Cisco's signing portal
  phoneprov.mpp.server_csr:
    path: /etc/ssl/provserver.csr
    privatekey_path: /etc/ssl/private/provserver.key
    common_name: pv.telco.net/mailto:admin@telco.net
    subject:
      O: Telco Inc.
      C: US
  register: csr

- name: Show the CSR to paste into the portal
  ansible.builtin.debug:
    msg: "{{ csr.csr }}"
'''

RETURN = r'''
path:
  description: Path of the CSR.
  type: str
  returned: always
  sample: /etc/ssl/provserver.csr
common_name:
  description: The subject CN.
  type: str
  returned: always
  sample: pv.telco.net/mailto:admin@telco.net
fqdn:
  description: The FQDN part of the CN, the name phones resolve.
  type: str
  returned: always
  sample: pv.telco.net
subject:
  description: Subject attributes of the CSR.
  type: dict
  returned: always
  sample: {CN: pv.telco.net/mailto:admin@telco.net, O: Telco Inc., C: US}
subject_alt_names:
  description: Subject alternative names of the CSR.
  type: list
  elements: str
  returned: always
  sample: [DNS:pv.telco.net]
digest:
  description: Signature hash of the CSR.
  type: str
  returned: always
  sample: sha256
csr:
  description: The CSR in PEM form (in check mode, the one that would be written).
  type: str
  returned: always
  sample: "-----BEGIN CERTIFICATE REQUEST-----\n...\n-----END CERTIFICATE REQUEST-----\n"
backup_file:
  description: Copy of the replaced CSR, when O(backup=true) and one was replaced.
  type: str
  returned: changed and backup made
  sample: /etc/ssl/provserver.csr.1234.2026-01-01@10:00:00~
'''

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.phoneprov.mpp.plugins.module_utils import pki
from ansible_collections.phoneprov.mpp.plugins.module_utils.cn import CNError, fqdn_problem, split_cn
from ansible_collections.phoneprov.mpp.plugins.module_utils.files import publish_file, read_bytes

_SUBJECT_KEYS = {'c': 'C', 'countryname': 'C', 'st': 'ST', 's': 'ST', 'stateorprovincename': 'ST',
                 'l': 'L', 'localityname': 'L', 'o': 'O', 'organizationname': 'O',
                 'ou': 'OU', 'organizationalunitname': 'OU', 'emailaddress': 'emailAddress',
                 'cn': 'CN', 'commonname': 'CN'}


def normalize_subject(module, subject, common_name):
    out = {}
    for key, value in (subject or {}).items():
        short = _SUBJECT_KEYS.get(str(key).lower())
        if short is None:
            module.fail_json(msg='subject key %r is not supported; use C, ST, L, O, OU or emailAddress' % key)
        if value is None or str(value) == '':
            continue
        out[short] = str(value)
    if 'CN' in out and out['CN'] != common_name:
        module.fail_json(msg='subject CN %r differs from common_name %r; set the CN with common_name only'
                         % (out['CN'], common_name))
    out['CN'] = common_name
    return out


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            privatekey_path=dict(type='path', required=True),
            privatekey_passphrase=dict(type='str', no_log=True),
            common_name=dict(type='str', required=True),
            subject=dict(type='dict', default={}),
            subject_alt_names=dict(type='list', elements='str'),
            digest=dict(type='str', choices=['sha256', 'sha384', 'sha512', 'sha1', 'md5'], default='sha256'),
            allow_weak=dict(type='bool', default=False),
            force=dict(type='bool', default=False),
            backup=dict(type='bool', default=False),
        ),
        add_file_common_args=True,
        supports_check_mode=True,
    )
    if not pki.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib('cryptography'), exception=pki.CRYPTOGRAPHY_IMPORT_ERROR)

    path = module.params['path']
    common_name = module.params['common_name']
    digest = module.params['digest']
    try:
        fqdn, _suffix = split_cn(common_name)
    except CNError as exc:
        module.fail_json(msg='common_name refused: %s' % exc, common_name=common_name)
    result = dict(changed=False, path=path, common_name=common_name, fqdn=fqdn, digest=digest, csr=None)

    if digest in pki.WEAK_DIGESTS:
        if not module.params['allow_weak']:
            module.fail_json(msg='digest %s is weak and refused; use sha256 (Cisco\'s portal recommends it), '
                                 'or set allow_weak: true' % digest, **result)
        module.warn('signing the CSR with the weak digest %s because allow_weak is true' % digest)

    subject = normalize_subject(module, module.params['subject'], common_name)
    try:
        pki.build_name(subject)
    except pki.PKIError as exc:
        module.fail_json(msg=str(exc), **result)
    result['subject'] = subject

    sans = module.params['subject_alt_names']
    if sans is None:
        sans = ['DNS:%s' % fqdn]
    try:
        sans = pki.normalize_sans(sans)
    except pki.PKIError as exc:
        module.fail_json(msg=str(exc), **result)
    dns_names = [san[4:] for san in sans if san.startswith('DNS:')]
    for name in dns_names:
        problem = fqdn_problem(name)
        if problem:
            module.fail_json(msg='subject alternative name DNS:%s %s; a SAN holds the FQDN alone, '
                                 'without the CN\'s /suffix' % (name, problem), **result)
    if dns_names and fqdn not in [name.lower() for name in dns_names]:
        module.fail_json(msg='subject_alt_names %s do not include DNS:%s, the FQDN of the CN that phones '
                             'connect to' % (', '.join(sans), fqdn), **result)
    result['subject_alt_names'] = sans

    key_bytes = read_bytes(module.params['privatekey_path'])
    if key_bytes is None:
        module.fail_json(msg='private key %s does not exist; create it first with phoneprov.mpp.server_key'
                         % module.params['privatekey_path'], **result)
    try:
        key = pki.load_private_key(key_bytes, module.params['privatekey_passphrase'],
                                   what='private key %s' % module.params['privatekey_path'])
    except pki.PKIError as exc:
        module.fail_json(msg=str(exc), **result)

    if os.path.isdir(path):
        module.fail_json(msg='path %s is a directory, not a CSR file' % path, **result)
    existing = read_bytes(path)
    if existing is not None and not module.params['force']:
        try:
            old = pki.load_csr(existing, 'existing CSR %s' % path)
        except pki.PKIError:
            old = None
        if (old is not None and pki.csr_signature_valid(old)
                and old.subject == pki.build_name(subject)
                and sorted(pki.subject_alt_names(old)) == sorted(sans)
                and pki.hash_name(old.signature_hash_algorithm) == digest
                and pki.key_matches(key, old)):
            result['csr'] = existing.decode('ascii', 'replace') if pki.is_pem(existing) else pki.csr_pem(old)
            publish = publish_file(module, path, existing, default_mode=0o644)
            result['changed'] = publish['changed']
            module.exit_json(**result)

    try:
        csr = pki.build_csr(key, subject, sans, digest)
    except pki.PKIError as exc:
        module.fail_json(msg=str(exc), **result)
    pem = pki.csr_pem(csr)
    publish = publish_file(module, path, pem, default_mode=0o644, backup=module.params['backup'])
    result['changed'] = publish['changed']
    result['csr'] = pem
    for name in ('backup_file', 'diff'):
        if name in publish:
            result[name] = publish[name]
    module.exit_json(**result)


if __name__ == '__main__':
    main()
