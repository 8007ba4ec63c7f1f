#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: server_cert
short_description: Install the signed certificate of a Cisco MPP provisioning server
version_added: 0.1.0
description:
  - Checks the certificate Cisco (or a lab CA) signed for the provisioning server and installs
    it, optionally with the full chain (leaf first, then the intermediates, as nginx wants it).
  - The certificate is refused, with nothing written, when it does not match the private key,
    does not chain to O(ca_path) (through O(chain_path) when given), is expired or not yet
    valid, has a CN that breaks the phones' CN rule or names another FQDN than O(fqdn), or
    has DNS subject alternative names none of which is the FQDN (see O(san_mismatch)).
  - It is also refused when it is no TLS server certificate - a CA certificate
    (basicConstraints CA:TRUE), a keyUsage with neither digitalSignature nor keyEncipherment, an
    extendedKeyUsage without serverAuth, signed with SHA-1 or MD5, an RSA key under 2048 bits or
    an EC key on a curve below P-256 - and when an issuer of the chain may not sign it - not a CA
    (basicConstraints CA:TRUE missing), a keyUsage without keyCertSign, its pathLenConstraint
    exceeded, its DNS name constraints not met, an intermediate signed with SHA-1/MD5 or with a
    weak key. Each message names the certificate (subject) and the problem.
  - Where the installed cryptography has its RFC 5280 verifier (C(cryptography.x509.verification),
    cryptography 42 and later), a certificate with a DNS SAN naming the FQDN is also verified by
    it; on older cryptography (Debian 12, RHEL 9) the checks above are done by the collection alone.
  - The task fails when fewer than O(min_days_valid) days of validity remain and reports
    RV(days_remaining); nothing is written then either.
  - Files are written atomically; the certificate is always written in PEM form.
  - A DNS subject alternative name holding the whole CN with its C(/...) suffix draws a warning
    (phones check the CN; other TLS clients check the SANs).
author:
  - phoneprov.mpp contributors (@phoneprov)
options:
  src:
    description:
      - Path of the signed certificate on the managed host, PEM or DER.
      - A PEM file may carry intermediates after the leaf; they join O(chain_path).
      - Exactly one of O(src) and O(content) is required.
    type: path
  content:
    description: The signed certificate itself, PEM text (or a PEM bundle, leaf first).
    type: str
  path:
    description: Where the certificate is installed (PEM).
    type: path
    required: true
  ca_path:
    description:
      - Trusted root certificate(s), a PEM bundle. The certificate must chain to one of them
        (Cisco's Server CA root, or a public CA the phones trust).
    type: path
    required: true
  chain_path:
    description: Intermediate CA certificates (PEM bundle) between the certificate and O(ca_path).
    type: path
  fullchain_path:
    description:
      - When given, also write the full chain there - the certificate, then the intermediates
        that link it to the root (the root itself is left out), as nginx C(ssl_certificate) wants.
    type: path
  fqdn:
    description:
      - The FQDN the certificate must name. Its CN's FQDN part must equal it.
      - When not given, the CN only has to follow the CN rule.
    type: str
  min_days_valid:
    description: Fail when fewer days of validity remain.
    type: int
    default: 30
  san_mismatch:
    description:
      - What to do when the certificate has DNS subject alternative names and none of them is the
        FQDN of its CN.
      - The phones check only the CN, so they would accept it, but every other TLS client (curl,
        browsers, monitoring)
        refuses a certificate whose SANs exist and do not name the host.
      - V(fail) refuses it with nothing written; V(warn) installs it with a warning (for a
        certificate already signed that only phones use).
      - A certificate without DNS SANs is not affected (the phones' CN decides).
    type: str
    choices: [fail, warn]
    default: fail
extends_documentation_fragment: [ansible.builtin.files, ansible.builtin.action_common_attributes, phoneprov.mpp.attributes,
                                 phoneprov.mpp.requirements, phoneprov.mpp.pki.privatekey, phoneprov.mpp.pki.backup]
notes:
  - File arguments (O(mode), O(owner), O(group), ...) apply to O(path) and O(fullchain_path).
seealso:
  - module: phoneprov.mpp.server_csr
  - module: phoneprov.mpp.cn_dns_verify
'''

EXAMPLES = r'''
- name: Install the certificate Cisco signed
  phoneprov.mpp.server_cert:
    src: /root/provserver.crt
    path: /etc/ssl/provserver.crt
    fullchain_path: /etc/ssl/provserver-fullchain.crt
    privatekey_path: /etc/ssl/private/provserver.key
    ca_path: /etc/ssl/cisco-server-ca.pem
    fqdn: pv.telco.net
'''

RETURN = r'''
path:
  description: Where the certificate is installed.
  type: str
  returned: always
  sample: /etc/ssl/provserver.crt
common_name:
  description: Subject CN of the certificate.
  type: str
  returned: when the certificate could be read
  sample: pv.telco.net/mailto:admin@telco.net
fqdn:
  description: FQDN part of the CN.
  type: str
  returned: when the CN follows the rule
  sample: pv.telco.net
subject_alt_names:
  description: Subject alternative names of the certificate.
  type: list
  elements: str
  returned: when the certificate could be read
  sample: [DNS:pv.telco.net]
issuer:
  description: Issuer DN (RFC 4514).
  type: str
  returned: when the certificate could be read
  sample: CN=Cisco Server CA,O=Cisco
serial:
  description: Serial number, upper-case hex as C(openssl x509 -serial) prints it.
  type: str
  returned: when the certificate could be read
  sample: 4F1A2B
not_before:
  description: Start of validity (UTC, ISO 8601).
  type: str
  returned: when the certificate could be read
  sample: "2026-01-01T00:00:00Z"
not_after:
  description: End of validity (UTC, ISO 8601).
  type: str
  returned: when the certificate could be read
  sample: "2027-01-01T00:00:00Z"
days_remaining:
  description: Whole days until RV(not_after); negative when expired.
  type: int
  returned: when the certificate could be read
  sample: 364
fingerprint:
  description: SHA-256 of the DER certificate, lower-case hex pairs separated by colons.
  type: str
  returned: when the certificate could be read
  sample: "5b:0e:...:9c"
chain:
  description: Subjects from the certificate up to the trusted root that signed it.
  type: list
  elements: str
  returned: success
  sample: [CN=pv.telco.net, CN=Cisco Server CA]
fullchain_path:
  description: Where the full chain is written, when asked for.
  type: str
  returned: when O(fullchain_path) is given
  sample: /etc/ssl/provserver-fullchain.crt
backup_file:
  description: Copy of the replaced certificate when O(backup=true).
  type: str
  returned: changed and backup made
  sample: /etc/ssl/provserver.crt.1234.2026-01-01@10:00:00~
fullchain_backup_file:
  description: Copy of the replaced full chain when O(backup=true).
  type: str
  returned: changed and backup made
  sample: /etc/ssl/provserver-fullchain.crt.1234.2026-01-01@10:00:00~
'''

from ansible_collections.phoneprov.mpp.plugins.module_utils.module_helper import create_module, pki_argument_spec, run_backend
from ansible_collections.phoneprov.mpp.plugins.module_utils.pki import PKIError
from ansible_collections.phoneprov.mpp.plugins.module_utils.server_cert_backend import install_server_cert

ARGUMENT_SPEC = pki_argument_spec(dict(
    src=dict(type='path'),
    content=dict(type='str'),
    path=dict(type='path', required=True),
    ca_path=dict(type='path', required=True),
    chain_path=dict(type='path'),
    fullchain_path=dict(type='path'),
    fqdn=dict(type='str'),
    min_days_valid=dict(type='int', default=30),
    san_mismatch=dict(type='str', choices=['fail', 'warn'], default='fail'),
), 'privatekey', 'backup')


def main():
    module = create_module(ARGUMENT_SPEC, add_file_common_args=True,
                           required_one_of=[('src', 'content')], mutually_exclusive=[('src', 'content')])
    run_backend(module, install_server_cert, PKIError)


if __name__ == '__main__':
    main()
