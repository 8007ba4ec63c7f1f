#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: lab_ca
short_description: A lab CA standing in for Cisco's, for labs, the demo and tests only
version_added: 0.1.0
description:
  - B(For labs, the demo and tests only.) Production phones trust Cisco's Server CA and carry
    client certificates from Cisco's Multiplatform Phone CA; this module imitates both so that
    the whole chain can be exercised without Cisco. Its CA keys sit unencrypted in O(path), on
    the host the task runs on - delegate it to the controller (role server_certificate does),
    so that no CA key lands on a provisioning server.
  - On first use it creates two self-signed roots in the CA directory O(path) - a server CA
    (stands in for the Cisco Server CA that phones trust; C(server-ca.crt), C(server-ca.key))
    and a phone client CA (stands in for Cisco's Multiplatform Phone CA Client Root, which
    nginx verifies phones with; C(client-ca.crt), C(client-ca.key)). Both have path length 0 and
    DNS name constraints (O(permitted_dns)). Existing CAs are kept.
    Another O(path) gives another, independent pair of CAs (an untrusted CA for tests).
  - With O(csr_path) and O(cert_path) it signs a server CSR with the server CA - subject and
    subject alternative names from the CSR, extended key usage serverAuth.
  - With O(client), O(cert_path) and O(key_path) it issues a phone-like client certificate with
    the client CA - subject C(OU)=model, C(L)=serial, C(ST)=MAC (the C($MA) form), extended key
    usage clientAuth; O(client.generic=true) issues the pre-2.0 generic certificate
    (C(OU=cisco.com, L=ciscogeneric, ST=ciscogeneric)). O(client.style=mic) issues the shape of
    a manufacturing certificate instead (C(CN=<model>-SEP<MAC>), C(serialNumber=PID:<model> SN:<serial>),
    C(O=Cisco Systems Inc.), C(OU=CTG)), which role provisioning_server reads with
    C(mpp_server_client_identity=cn_sep).
  - With O(clients) and O(client_dir) it issues many phones in one task, files
    C(<mac>.crt) and C(<mac>.key) named by the C($MA) form.
  - Idempotent - an existing certificate that matches the CSR (or client), the CA, the key type
    and the validity asked for is kept. Private keys are written with mode C(0600).
author:
  - phoneprov.mpp contributors (@phoneprov)
options:
  path:
    description: CA directory; created (mode C(0700)) when missing.
    type: path
    required: true
  name:
    description: Organization (C(O)) of the CA subjects; the CA CNs add a short key fingerprint.
    type: str
    default: phoneprov lab
  ca_days:
    description: Validity of newly created CA certificates, in days.
    type: int
    default: 3650
  permitted_dns:
    description:
      - DNS name constraints of newly created CAs (both roots) - the DNS subtrees they may sign
        names in (C(mpp.test) - the name and every name below it; C(.mpp.test) - only the names
        below it). A leaked lab CA key then cannot mint a certificate for another domain that
        TLS clients trusting the lab CA would accept.
      - When not given and a CSR is signed in the task that creates the CAs (as role
        server_certificate does with signer V(lab)), the domain of each FQDN the CSR names -
        its CN's FQDN and its DNS SANs (C(prov.mpp.test) gives C(mpp.test); a name of two
        labels stands for itself).
      - When not given and there is no CSR, the CAs get no name constraints (with a warning).
        V([]) asks for none.
      - New CAs always have path length 0 (no intermediate CA below them).
      - Existing CAs are kept as they are, also when they were made by an older version without
        path length and name constraints or with other constraints (a warning says so). To
        regenerate them, remove O(path) and run the lab again; every certificate they signed
        is then issued anew.
      - A CSR naming a DNS name outside the server CA's name constraints is refused, with
        nothing written.
    type: list
    elements: str
  csr_path:
    description: Server CSR to sign with the server CA. Needs O(cert_path).
    type: path
  cert_path:
    description: Where the signed server certificate or the client certificate is written.
    type: path
  key_path:
    description: Where the client's private key is written (with O(client)).
    type: path
  client:
    description: One phone client certificate to issue. Needs O(cert_path) and O(key_path).
    type: dict
    suboptions:
      mac:
        description: The phone's MAC, any spelling; written in the C($MA) form to C(ST).
        type: str
      model:
        description: Product name, written to C(OU).
        type: str
        default: CP-8841-3PCC
      serial:
        description: Serial number, written to C(L). Defaults to the MAC in upper case.
        type: str
      generic:
        description: Issue the generic certificate of units made before firmware 2.0.
        type: bool
        default: false
      style:
        description:
          - V(guide) - the provisioning guide's subject (C(OU)=model, C(L)=serial, C(ST)=MAC), read by the
            identity rule V(st).
          - V(mic) - a manufacturing certificate's subject, C(CN=<model>-SEP<MAC upper case>),
            C(serialNumber=PID:<model> SN:<serial>), C(O=Cisco Systems Inc.), C(OU=CTG), read by the
            identity rule V(cn_sep) (module_utils/client_subject.py).
        type: str
        choices: [guide, mic]
        default: guide
  clients:
    description:
      - Many phone client certificates, each a dict like O(client) (V(mac) required unless
        V(generic); V(style) as O(client.style)), written to O(client_dir) as C(<mac>.crt) and C(<mac>.key).
    type: list
    elements: dict
  client_dir:
    description:
      - Directory for O(clients); it must exist (in check mode it may be missing, when an
        earlier task would create it).
    type: path
  key_type:
    description: Key type of issued client keys.
    type: str
    choices: [rsa, ecc]
    default: rsa
  key_size:
    description: RSA size of issued client keys.
    type: int
    choices: [2048, 3072, 4096]
    default: 2048
  curve:
    description: Curve of issued ECC client keys.
    type: str
    choices: [P-256, P-384]
    default: P-256
  days:
    description: Validity of issued certificates in days, from now (ignored when O(not_after) is set).
    type: int
    default: 365
  not_before:
    description:
      - Start of validity of issued certificates, a relative offset (V(-10d), V(+2d), V(-3h),
        V(+30m)) or an absolute UTC time (V(2030-01-01T00:00:00Z)). Default is five minutes ago.
      - A future value makes a not-yet-valid certificate, for tests.
    type: str
  not_after:
    description:
      - End of validity of issued certificates, as O(not_before). A past value (V(-1d)) makes an
        expired certificate, for tests.
    type: str
  extended_key_usage:
    description:
      - Extended key usage of the issued certificate. Default serverAuth for O(csr_path) and
        clientAuth for client certificates; the other value makes a wrong certificate for tests.
    type: str
    choices: [serverAuth, clientAuth]
extends_documentation_fragment: [ansible.builtin.files, ansible.builtin.action_common_attributes, phoneprov.mpp.attributes,
                                 phoneprov.mpp.requirements, phoneprov.mpp.pki.force]
attributes:
  diff_mode:
    details: Diffs are shown for issued certificates, never for private keys; with O(clients), one
      summary lists the phones issued.
notes:
  - File arguments (O(mode), O(owner), O(group), ...) apply to the certificates this task
    issues; private keys are always C(0600).
  - The validity of an existing certificate matches a requested O(not_before)/O(not_after)
    when it lies within one day of it.
seealso:
  - module: phoneprov.mpp.server_csr
  - module: phoneprov.mpp.server_cert
'''

EXAMPLES = r'''
- name: Lab CAs (server CA and phone client CA)
  phoneprov.mpp.lab_ca:
    path: /srv/lab-ca
  register: ca

- name: Sign the server CSR like Cisco would
  phoneprov.mpp.lab_ca:
    path: /srv/lab-ca
    csr_path: /etc/ssl/provserver.csr
    cert_path: /root/provserver.crt

- name: A phone client certificate
  phoneprov.mpp.lab_ca:
    path: /srv/lab-ca
    client:
      mac: 00:0e:08:ab:cd:ef
      model: CP-8841-3PCC
      serial: FCH1234ABCD
    cert_path: /srv/phones/000e08abcdef.crt
    key_path: /srv/phones/000e08abcdef.key

- name: A whole fleet of phone certificates in one task, fast ECC keys
  phoneprov.mpp.lab_ca:
    path: /srv/lab-ca
    clients: "{{ mpp_phones }}"
    client_dir: /srv/phones
    key_type: ecc

- name: An expired server certificate, for a test
  phoneprov.mpp.lab_ca:
    path: /srv/lab-ca
    csr_path: /etc/ssl/provserver.csr
    cert_path: /tmp/expired.crt
    not_before: -30d
    not_after: -1d
'''

RETURN = r'''
path:
  description: The CA directory.
  type: str
  returned: always
  sample: /srv/lab-ca
server_ca_path:
  description: Server CA certificate (phones trust it; O(phoneprov.mpp.server_cert#module:ca_path)).
  type: str
  returned: always
  sample: /srv/lab-ca/server-ca.crt
server_ca_key_path:
  description: Server CA private key (mode C(0600)).
  type: str
  returned: always
  sample: /srv/lab-ca/server-ca.key
client_ca_path:
  description: Phone client CA certificate (nginx C(ssl_client_certificate)).
  type: str
  returned: always
  sample: /srv/lab-ca/client-ca.crt
client_ca_key_path:
  description: Phone client CA private key (mode C(0600)).
  type: str
  returned: always
  sample: /srv/lab-ca/client-ca.key
cert_path:
  description: The certificate issued or kept.
  type: str
  returned: with O(csr_path) or O(client)
  sample: /root/provserver.crt
key_path:
  description: The client key written or kept.
  type: str
  returned: with O(client)
  sample: /srv/phones/000e08abcdef.key
subject:
  description: Subject of the certificate issued or kept (RFC 4514, as nginx prints it).
  type: str
  returned: with O(csr_path) or O(client)
  sample: OU=CP-8841-3PCC,L=FCH1234ABCD,ST=000e08abcdef
identity:
  description:
    - The identity rule (C(mpp_server_client_identity), phone_check's O(phoneprov.mpp.phone_check#module:client_identity))
      that reads the phone from a client of this O(client.style) - V(st) for V(guide), V(cn_sep) for V(mic).
  type: str
  returned: with O(client)
  sample: st
mac:
  description: The MAC (C($MA) form) that identity rule reads from the subject; null for the generic certificate.
  type: str
  returned: with O(client)
  sample: 000e08abcdef
subject_alt_names:
  description: SANs of the signed server certificate.
  type: list
  elements: str
  returned: with O(csr_path)
  sample: [DNS:pv.lab.example]
serial:
  description: Serial number (upper-case hex).
  type: str
  returned: with O(csr_path) or O(client)
  sample: 4F1A2B
not_before:
  description: Start of validity (UTC, ISO 8601).
  type: str
  returned: with O(csr_path) or O(client)
  sample: "2026-01-01T00:00:00Z"
not_after:
  description: End of validity (UTC, ISO 8601).
  type: str
  returned: with O(csr_path) or O(client)
  sample: "2027-01-01T00:00:00Z"
client_dir:
  description: The directory of the fleet's certificates and keys.
  type: str
  returned: with O(clients)
  sample: /srv/phones
issued:
  description: MACs (C($MA) form, or C(generic)) whose certificates were issued by this run.
  type: list
  elements: str
  returned: with O(clients)
  sample: [000e08abcdef]
unchanged:
  description: MACs whose existing certificates were kept.
  type: list
  elements: str
  returned: with O(clients)
  sample: []
created_ca:
  description: The CAs created by this run (V(server), V(client)).
  type: list
  elements: str
  returned: always
  sample: [server, client]
'''

from ansible_collections.phoneprov.mpp.plugins.module_utils.client_subject import DEFAULT_MODEL
from ansible_collections.phoneprov.mpp.plugins.module_utils.lab_ca_backend import run_lab_ca
from ansible_collections.phoneprov.mpp.plugins.module_utils.module_helper import create_module, pki_argument_spec, run_backend
from ansible_collections.phoneprov.mpp.plugins.module_utils.pki import PKIError

CLIENT_OPTIONS = dict(
    mac=dict(type='str'),
    model=dict(type='str', default=DEFAULT_MODEL),
    serial=dict(type='str'),
    generic=dict(type='bool', default=False),
    style=dict(type='str', choices=['guide', 'mic'], default='guide'),
)
ARGUMENT_SPEC = pki_argument_spec(dict(
    path=dict(type='path', required=True),
    name=dict(type='str', default='phoneprov lab'),
    ca_days=dict(type='int', default=3650),
    permitted_dns=dict(type='list', elements='str'),
    csr_path=dict(type='path'),
    cert_path=dict(type='path'),
    key_path=dict(type='path'),
    client=dict(type='dict', options=CLIENT_OPTIONS),
    clients=dict(type='list', elements='dict'),
    client_dir=dict(type='path'),
    key_type=dict(type='str', choices=['rsa', 'ecc'], default='rsa'),
    key_size=dict(type='int', choices=[2048, 3072, 4096], default=2048),
    curve=dict(type='str', choices=['P-256', 'P-384'], default='P-256'),
    days=dict(type='int', default=365),
    not_before=dict(type='str'),
    not_after=dict(type='str'),
    extended_key_usage=dict(type='str', choices=['serverAuth', 'clientAuth']),
), 'force')


def main():
    module = create_module(ARGUMENT_SPEC, add_file_common_args=True,
                           mutually_exclusive=[('csr_path', 'client', 'clients')],
                           required_by={'csr_path': 'cert_path', 'client': ('cert_path', 'key_path'), 'clients': 'client_dir'})
    run_backend(module, run_lab_ca, PKIError)


if __name__ == '__main__':
    main()
