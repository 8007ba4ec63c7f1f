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
options:
  path:
    description: Path of the CSR file (PEM).
    type: path
    required: true
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
extends_documentation_fragment: [ansible.builtin.files, ansible.builtin.action_common_attributes, phoneprov.mpp.attributes,
                                 phoneprov.mpp.requirements, phoneprov.mpp.pki.privatekey, phoneprov.mpp.pki.force, phoneprov.mpp.pki.backup]
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

from ansible_collections.phoneprov.mpp.plugins.module_utils.module_helper import create_module, pki_argument_spec, run_backend
from ansible_collections.phoneprov.mpp.plugins.module_utils.pki import PKIError
from ansible_collections.phoneprov.mpp.plugins.module_utils.server_csr_backend import ensure_server_csr

ARGUMENT_SPEC = pki_argument_spec(dict(
    path=dict(type='path', required=True),
    common_name=dict(type='str', required=True),
    subject=dict(type='dict', default={}),
    subject_alt_names=dict(type='list', elements='str'),
    digest=dict(type='str', choices=['sha256', 'sha384', 'sha512', 'sha1', 'md5'], default='sha256'),
    allow_weak=dict(type='bool', default=False),
), 'privatekey', 'force', 'backup')


def main():
    module = create_module(ARGUMENT_SPEC, add_file_common_args=True)
    run_backend(module, ensure_server_csr, PKIError)


if __name__ == '__main__':
    main()
