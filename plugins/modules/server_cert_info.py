#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: server_cert_info
short_description: Days left on a provisioning server certificate, from a file or as the server serves it
version_added: 0.1.0
description:
  - Reads a server certificate and reports its subject, serial, validity and how many days it
    has left. The module is read-only and never changes anything.
  - With O(host), it makes a TLS handshake to the live server and reads the certificate the
    server actually serves for O(server_name) (SNI), so a certificate file that nginx has not
    loaded yet (no reload since it changed) is not mistaken for the one the phones see.
  - The certificate is only read, not verified (an expired one is reported, not refused); use
    M(phoneprov.mpp.phone_check) for the phone's whole handshake and M(phoneprov.mpp.cn_dns_verify)
    for its CN and DNS check.
  - Fewer than O(warn_days) days left gives an Ansible warning; fewer than O(fail_days) fails the
    task, with every return value filled in.
author:
  - phoneprov.mpp contributors (@phoneprov)
options:
  host:
    description:
      - Connect to this TLS server (name or IP address) and read the certificate it presents.
      - Exactly one of O(host) and O(path) is required.
    type: str
  port:
    description: TCP port of O(host).
    type: int
    default: 443
  server_name:
    description:
      - TLS server name (SNI) sent to O(host), the FQDN the phones use (C(mpp_server_fqdn)); nginx
        picks the site, and so the certificate, by it.
      - Default is O(host).
    type: str
  path:
    description: A certificate file (PEM or DER; for a PEM bundle, the first certificate) on the managed host.
    type: path
  warn_days:
    description: Warn when fewer days than this are left; unset does not warn.
    type: int
  fail_days:
    description: Fail when fewer days than this are left (an expired certificate has negative days); unset does not fail.
    type: int
  timeout:
    description: Seconds allowed for the connection and the TLS handshake.
    type: float
    default: 10.0
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - phoneprov.mpp.attributes.check_only
  - phoneprov.mpp.requirements
seealso:
  - module: phoneprov.mpp.phone_check
  - module: phoneprov.mpp.server_cert
'''

EXAMPLES = r'''
- name: Days left on the certificate nginx serves (as phones see it)
  phoneprov.mpp.server_cert_info:
    host: 192.0.2.10
    port: 443
    server_name: pv.telco.net
    warn_days: 60
    fail_days: 14
  delegate_to: localhost
  register: served

- name: Days left on the certificate file
  phoneprov.mpp.server_cert_info:
    path: /etc/ssl/mpp/server.crt
  register: on_disk
'''

RETURN = r'''
subject:
  description: The certificate's subject (RFC 4514).
  returned: success
  type: str
  sample: CN=pv.telco.net
common_name:
  description: The subject CN.
  returned: success
  type: str
  sample: pv.telco.net
issuer:
  description: The issuer (RFC 4514).
  returned: success
  type: str
  sample: CN=Cisco Server CA
serial:
  description: Serial number, upper-case hex as C(openssl x509 -serial) prints it.
  returned: success
  type: str
  sample: 5A3F09
not_before:
  description: Start of validity (UTC).
  returned: success
  type: str
  sample: "2026-01-01T10:00:00Z"
not_after:
  description: End of validity (UTC).
  returned: success
  type: str
  sample: "2027-01-01T10:00:00Z"
days_left:
  description: Whole days until RV(not_after); negative when the certificate has expired.
  returned: success
  type: int
  sample: 42
fingerprint:
  description: SHA-256 of the DER certificate, colon-separated hex.
  returned: success
  type: str
  sample: "ab:cd:..."
expiry:
  description: V(ok), V(warn) (fewer than O(warn_days) left) or V(fail) (fewer than O(fail_days) left).
  returned: success
  type: str
  sample: warn
peer_address:
  description: The server address the live certificate was read from (O(host) resolved).
  returned: when O(host) is given and the handshake succeeded
  type: str
  sample: 192.0.2.10
msg:
  description: What was found (certificate, serial, notAfter, days left), or the problem.
  returned: always
  type: str
  sample: "the certificate 192.0.2.10 port 443 serves for pv.telco.net (pv.telco.net, serial 5A3F09) is valid until 2027-01-01T10:00:00Z: 42 days left"
'''

from ansible_collections.phoneprov.mpp.plugins.module_utils.module_helper import create_module, run_backend
from ansible_collections.phoneprov.mpp.plugins.module_utils.server_cert_info_backend import CertInfoError, server_cert_info

ARGUMENT_SPEC = dict(
    host=dict(type='str'),
    port=dict(type='int', default=443),
    server_name=dict(type='str'),
    path=dict(type='path'),
    warn_days=dict(type='int'),
    fail_days=dict(type='int'),
    timeout=dict(type='float', default=10.0),
)


def main():
    module = create_module(ARGUMENT_SPEC, required_one_of=[('host', 'path')], mutually_exclusive=[('host', 'path')])
    run_backend(module, server_cert_info, CertInfoError)


if __name__ == '__main__':
    main()
