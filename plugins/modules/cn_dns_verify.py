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
requirements:
  - cryptography >= 3.1 on the managed host
  - dnspython >= 2.0 on the managed host
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
attributes:
  check_mode:
    support: full
    details: The module is read-only; check mode runs the same lookups.
  diff_mode:
    support: none
  platform:
    platforms: posix
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

import os
import socket
import ssl
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.phoneprov.mpp.plugins.module_utils import dns_check, pki
from ansible_collections.phoneprov.mpp.plugins.module_utils.cn import CNError, fqdn_problem, split_cn


def fetch_certificate(module, host, port, server_name, timeout, result):
    """DER certificate and peer address of a live TLS server; the certificate is not verified."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # Reading only: the chain and host name are the phone's and server_cert's job, not this check's.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if module.params['client_cert']:
        try:
            context.load_cert_chain(module.params['client_cert'], module.params['client_key'])
        except (OSError, ssl.SSLError) as exc:
            module.fail_json(msg='cannot load client certificate %s: %s' % (module.params['client_cert'], to_native(exc)),
                             **result)
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            peer = sock.getpeername()[0]
            with context.wrap_socket(sock, server_hostname=server_name) as tls:
                der = tls.getpeercert(binary_form=True)
    except ssl.SSLError as exc:
        module.fail_json(msg='TLS handshake with %s port %d failed: %s' % (host, port, to_native(exc)), **result)
    except socket.timeout:
        module.fail_json(msg='no TLS answer from %s port %d within %s seconds' % (host, port, timeout), **result)
    except (OSError, socket.error) as exc:
        module.fail_json(msg='cannot connect to %s port %d: %s' % (host, port, to_native(exc)), **result)
    if not der:
        module.fail_json(msg='%s port %d presented no certificate' % (host, port), **result)
    return der, dns_check.normalize_address(peer)


def base_result():
    return dict(changed=False, resolved_addresses=[], expected_addresses=[], missing_addresses=[],
                ok=False, dns_error=None)


def is_ip(text):
    try:
        dns_check.normalize_address(text)
    except ValueError:
        return False
    return True


def main():
    module = AnsibleModule(
        argument_spec=dict(
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
        ),
        required_one_of=[('certificate_path', 'content', 'host')],
        mutually_exclusive=[('certificate_path', 'content', 'host')],
        required_by={'client_cert': 'host', 'client_key': 'client_cert'},
        supports_check_mode=True,
    )
    if not pki.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib('cryptography'), exception=pki.CRYPTOGRAPHY_IMPORT_ERROR)
    if not dns_check.HAS_DNSPYTHON:
        module.fail_json(msg=missing_required_lib('dnspython'),
                         exception=''.join(traceback.format_exception_only(type(dns_check.DNSPYTHON_IMPORT_ERROR),
                                                                           dns_check.DNSPYTHON_IMPORT_ERROR)))
    params = module.params
    result = base_result()

    if not 0 < params['dns_port'] < 65536:
        module.fail_json(msg='dns_port %d is not a port number (1-65535)' % params['dns_port'], **result)
    if not 0 < params['port'] < 65536:
        module.fail_json(msg='port %d is not a port number (1-65535)' % params['port'], **result)
    if params['timeout'] <= 0:
        module.fail_json(msg='timeout must be more than 0 seconds, got %s' % params['timeout'], **result)
    wanted_fqdn = None
    if params['fqdn'] is not None:
        problem = fqdn_problem(params['fqdn'])
        if problem:
            module.fail_json(msg='fqdn %r %s' % (params['fqdn'], problem), **result)
        wanted_fqdn = params['fqdn'].lower()
    try:
        expected = dns_check.sort_addresses(params['expected_addresses'] or [])
    except ValueError as exc:
        module.fail_json(msg='expected_addresses: %s' % exc, **result)
    for server in params['nameservers'] or []:
        if not is_ip(server):
            module.fail_json(msg='nameservers: %r is not an IP address' % server, **result)
    result['expected_addresses'] = expected
    result['missing_addresses'] = list(expected)

    # 1. the certificate
    if params['host']:
        server_name = wanted_fqdn or (None if is_ip(params['host']) else params['host'])
        data, peer = fetch_certificate(module, params['host'], params['port'], server_name, params['timeout'], result)
        result['peer_address'] = peer
        source = 'certificate of %s port %d' % (params['host'], params['port'])
        if params['expected_addresses'] is None:
            expected = [peer]
            result['expected_addresses'] = expected
            result['missing_addresses'] = list(expected)
    elif params['certificate_path']:
        path = params['certificate_path']
        source = 'certificate %s' % path
        if os.path.isdir(path):
            module.fail_json(msg='certificate_path %s is a directory, not a certificate file' % path, **result)
        try:
            with open(path, 'rb') as handle:
                data = handle.read()
        except OSError as exc:
            module.fail_json(msg='cannot read certificate_path %s: %s' % (path, to_native(exc)), **result)
    else:
        data = params['content']
        source = 'certificate in content'
    try:
        cert = pki.load_certificate(data, what=source)
    except pki.PKIError as exc:
        module.fail_json(msg=str(exc), **result)

    # 2. the CN rule
    common_name = pki.common_name(cert)
    result['common_name'] = common_name
    if common_name is None:
        module.fail_json(msg='%s has no subject CN; the phone needs the server FQDN there' % source, **result)
    try:
        fqdn = split_cn(common_name)[0]
    except CNError as exc:
        module.fail_json(msg='%s breaks the CN rule: %s' % (source, exc), **result)
    result['fqdn'] = fqdn

    # 3. the DNS check
    check = dns_check.check_addresses(fqdn, expected, nameservers=params['nameservers'],
                                      port=params['dns_port'], timeout=params['timeout'])
    for key in ('resolved_addresses', 'expected_addresses', 'missing_addresses', 'ok', 'dns_error'):
        result[key] = check[key]
    problems = []
    if check['dns_error']:
        problems.append(check['dns_error_msg'])
    elif check['missing_addresses']:
        problems.append('%s resolves to %s, which lacks %s: phones reject %s at %s'
                        % (fqdn, ', '.join(check['resolved_addresses']), ', '.join(check['missing_addresses']),
                           'the server' if len(check['missing_addresses']) == 1 else 'the servers',
                           ', '.join(check['missing_addresses'])))
    if wanted_fqdn and wanted_fqdn != fqdn:
        result['ok'] = False
        problems.append('the CN %r names %s, not the expected fqdn %s' % (common_name, fqdn, wanted_fqdn))
    if problems:
        result['msg'] = 'CN/DNS check failed for %s: %s' % (source, '; '.join(problems))
        if params['fail_on_mismatch']:
            module.fail_json(**result)
        module.warn(result['msg'])
        module.exit_json(**result)
    if expected:
        result['msg'] = '%s resolves to %s; every expected address (%s) is there' % (
            fqdn, ', '.join(check['resolved_addresses']), ', '.join(expected))
    else:
        result['msg'] = '%s resolves to %s (no expected_addresses given to compare)' % (
            fqdn, ', '.join(check['resolved_addresses']))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
