#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: cn_dns_verify
short_description: The Cisco MPP phone's CN and DNS check of a provisioning server certificate
version_added: 0.1.0
description:
  - Does what a Cisco multiplatform phone does before it trusts a provisioning server, besides
    verifying the signature, and reports the result. The module is read-only and never changes
    anything.
  - Reads the server certificate from a file on the managed host (O(certificate_path)), from
    O(content), or live from a TLS server (O(host) and O(port)).
  - Takes the FQDN from the certificate's subject CN with the phone's CN rule (the FQDN,
    optionally followed by C(/) and free text such as C(pv.telco.net/mailto:admin@telco.net)).
  - Resolves that FQDN's A and AAAA records with dnspython, through the system resolver or the
    given O(nameservers) and O(dns_port), and reports which O(expected_addresses) are missing.
    A phone rejects a server whose address is not among them; with several servers behind one
    name, every server's address must be in DNS.
  - NXDOMAIN, SERVFAIL (also REFUSED or any other failure of every name server), a timeout and
    an empty answer (the name exists without A or AAAA records) are each reported by name in
    RV(dns_error).
  - When the check fails (RV(ok) is false) the task fails with a message naming the problem and
    every return value filled in, unless O(fail_on_mismatch=false) asks for a report only.
author:
  - phoneprov.mpp contributors (@phoneprov)
options:
  certificate_path:
    description:
      - Path of the server certificate (PEM or DER) on the managed host. For a PEM bundle (a
        full chain), the first certificate is the server's.
      - Exactly one of O(certificate_path), O(content) and O(host) is required.
    type: path
  content:
    description: The server certificate itself, PEM text.
    type: str
  host:
    description:
      - Connect to this TLS server (name or IP address) and check the certificate it presents.
      - The certificate is only read, not verified (no chain or hostname check); use
        M(phoneprov.mpp.phone_check) to test the whole handshake as a phone does.
      - The address the module connected to is the default for O(expected_addresses).
    type: str
  port:
    description: TCP port of O(host).
    type: int
    default: 443
  fqdn:
    description:
      - The FQDN the certificate must name. When set, a CN that names another FQDN fails the
        check (RV(ok) is false).
      - With O(host), it is also sent as the TLS server name (SNI); without it, a O(host) that
        is a DNS name is sent.
    type: str
  client_cert:
    description:
      - Client certificate (PEM file on the managed host) to present when O(host) demands one
        (nginx with C(ssl_verify_client on) may end a TLS 1.2 handshake without one).
    type: path
  client_key:
    description: Private key (PEM file) for O(client_cert).
    type: path
  expected_addresses:
    description:
      - IP addresses (IPv4 or IPv6, any spelling) of every server that presents this certificate;
        each must be among the addresses the FQDN resolves to.
      - Default with O(host) is the address the module connected to; otherwise empty, and the
        check only requires that the FQDN resolves to at least one address.
    type: list
    elements: str
  nameservers:
    description:
      - IP addresses of the DNS servers to ask. Default is the managed host's system resolver
        (C(/etc/resolv.conf)), which is what phones on the same network would use.
    type: list
    elements: str
  dns_port:
    description: UDP/TCP port of the DNS servers (also applied to the system resolver's servers).
    type: int
    default: 53
  timeout:
    description: Seconds allowed for the DNS lookup (A and AAAA together), and for the TLS connection.
    type: float
    default: 5.0
  fail_on_mismatch:
    description:
      - V(true) (default) fails the task when RV(ok) is false, a missing address or a DNS failure
        such as NXDOMAIN, so a playbook stops before phones would reject the server.
      - V(false) reports only, for audits and dashboards; the task succeeds with RV(ok=false),
        a warning names the problem, and C(register) plus a condition can decide what to do.
      - A certificate that cannot be read, a CN that breaks the rule, or a server that cannot be
        reached always fails, since there is nothing to check.
    type: bool
    default: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - phoneprov.mpp.attributes.check_only
  - phoneprov.mpp.requirements
  - phoneprov.mpp.requirements.dnspython
attributes:
  check_mode:
    details: The module is read-only; check mode runs the same lookups.
notes:
  - The module never changes anything; C(changed) is always false.
  - DNS queries go to the given name servers from the managed host; the system resolver's
    search domains are not applied (the phone resolves the FQDN as written).
seealso:
  - module: phoneprov.mpp.server_cert
  - module: phoneprov.mpp.phone_check
'''

EXAMPLES = r'''
- name: Check the installed certificate against DNS for both servers behind the name
  phoneprov.mpp.cn_dns_verify:
    certificate_path: /etc/nginx/mpp/provserver.crt
    expected_addresses:
      - 192.0.2.10
      - 192.0.2.11
      - 2001:db8::10

- name: Check what a live server presents, like a phone connecting to it
  phoneprov.mpp.cn_dns_verify:
    host: prov.example.net
    port: 443

- name: Audit only, against a given DNS server; never fail
  phoneprov.mpp.cn_dns_verify:
    certificate_path: /etc/nginx/mpp/provserver.crt
    expected_addresses: "{{ ansible_default_ipv4.address }}"
    nameservers: [192.0.2.53]
    fail_on_mismatch: false
  register: cn_dns

- name: Show what is missing
  ansible.builtin.debug:
    msg: "{{ cn_dns.fqdn }} lacks {{ cn_dns.missing_addresses }} ({{ cn_dns.dns_error or 'no DNS error' }})"
  when: not cn_dns.ok
'''

RETURN = r'''
common_name:
  description: The certificate's subject CN.
  returned: when the certificate could be read
  type: str
  sample: pv.telco.net/mailto:admin@telco.net
fqdn:
  description: The FQDN the phone resolves, from the CN (lower case).
  returned: when the CN follows the rule
  type: str
  sample: pv.telco.net
resolved_addresses:
  description: Addresses (A and AAAA) the FQDN resolves to, normalised, IPv4 first.
  returned: always
  type: list
  elements: str
  sample: [192.0.2.10, 2001:db8::10]
expected_addresses:
  description: The expected server addresses, normalised (IPv6 compressed, IPv4-mapped IPv6 as IPv4).
  returned: always
  type: list
  elements: str
  sample: [192.0.2.10, 192.0.2.11]
missing_addresses:
  description: Expected addresses the FQDN does not resolve to; phones reject those servers.
  returned: always
  type: list
  elements: str
  sample: [192.0.2.11]
ok:
  description: True when the FQDN resolves, every expected address is among the answers and the
    CN names O(fqdn) when that is given.
  returned: always
  type: bool
  sample: false
dns_error:
  description: The DNS failure by name, C(NXDOMAIN), C(SERVFAIL), C(TIMEOUT), C(NOANSWER) (empty
    answer) or C(CONFIG) (bad resolver setup); null when DNS answered.
  returned: always
  type: str
  sample: NXDOMAIN
peer_address:
  description: The address the module connected to with O(host).
  returned: when O(host) is given and the connection succeeded
  type: str
  sample: 192.0.2.10
msg:
  description: What was found, or the problem.
  returned: always
  type: str
  sample: "pv.telco.net resolves to 192.0.2.10; every expected address is there"
'''

from ansible_collections.phoneprov.mpp.plugins.module_utils.cn_dns_verify_backend import VerifyError, verify_cn_dns
from ansible_collections.phoneprov.mpp.plugins.module_utils.module_helper import create_module, run_backend

ARGUMENT_SPEC = dict(
    certificate_path=dict(type='path'),
    content=dict(type='str'),
    host=dict(type='str'),
    port=dict(type='int', default=443),
    fqdn=dict(type='str'),
    client_cert=dict(type='path'),
    client_key=dict(type='path'),
    expected_addresses=dict(type='list', elements='str'),
    nameservers=dict(type='list', elements='str'),
    dns_port=dict(type='int', default=53),
    timeout=dict(type='float', default=5.0),
    fail_on_mismatch=dict(type='bool', default=True),
)


def main():
    module = create_module(ARGUMENT_SPEC, libraries=('cryptography', 'dnspython'),
                           required_one_of=[('certificate_path', 'content', 'host')],
                           mutually_exclusive=[('certificate_path', 'content', 'host')],
                           required_by={'client_cert': 'host', 'client_key': 'client_cert'})
    run_backend(module, verify_cn_dns, VerifyError)


if __name__ == '__main__':
    main()
