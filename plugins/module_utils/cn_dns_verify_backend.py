# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cn_dns_verify module's backend: what a Cisco MPP phone checks besides the signature.

The server certificate comes from a file, from text, or live from a TLS server; its CN must
follow the phones' CN rule (module_utils/cn.py) and its FQDN must resolve to every expected
server address (module_utils/dns_check.py). Nothing is changed. A check that cannot be made
(options, an unreadable certificate, an unreachable server) and, with ``fail_on_mismatch``, a
failed check raise :class:`VerifyError`.
"""

from __future__ import annotations

import os
import socket
import ssl

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.phoneprov.mpp.plugins.module_utils import dns_check, pki
from ansible_collections.phoneprov.mpp.plugins.module_utils.cn import CNError, fqdn_problem, split_cn


class VerifyError(Exception):
    """The CN/DNS check failed or could not be made; the message names the problem."""


def is_ip(text):
    try:
        dns_check.normalize_address(text)
    except ValueError:
        return False
    return True


def check_options(params):
    """Refuse ports, timeout and fqdn the check cannot work with; returns the expected FQDN (lower case) or None."""
    if not 0 < params['dns_port'] < 65536:
        raise VerifyError('dns_port %d is not a port number (1-65535)' % params['dns_port'])
    if not 0 < params['port'] < 65536:
        raise VerifyError('port %d is not a port number (1-65535)' % params['port'])
    if params['timeout'] <= 0:
        raise VerifyError('timeout must be more than 0 seconds, got %s' % params['timeout'])
    if params['fqdn'] is None:
        return None
    problem = fqdn_problem(params['fqdn'])
    if problem:
        raise VerifyError('fqdn %r %s' % (params['fqdn'], problem))
    return params['fqdn'].lower()


def fetch_certificate(params, server_name):
    """DER certificate and peer address of the live TLS server ``host``; the certificate is not verified."""
    host, port, timeout = params['host'], params['port'], params['timeout']
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # Reading only: the chain and host name are the phone's and server_cert's job, not this check's.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if params['client_cert']:
        try:
            context.load_cert_chain(params['client_cert'], params['client_key'])
        except (OSError, ssl.SSLError) as exc:
            raise VerifyError('cannot load client certificate %s: %s' % (params['client_cert'], to_native(exc)))
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            peer = sock.getpeername()[0]
            with context.wrap_socket(sock, server_hostname=server_name) as tls:
                der = tls.getpeercert(binary_form=True)
    except ssl.SSLError as exc:
        raise VerifyError('TLS handshake with %s port %d failed: %s' % (host, port, to_native(exc)))
    except socket.timeout:
        raise VerifyError('no TLS answer from %s port %d within %s seconds' % (host, port, timeout))
    except (OSError, socket.error) as exc:
        raise VerifyError('cannot connect to %s port %d: %s' % (host, port, to_native(exc)))
    if not der:
        raise VerifyError('%s port %d presented no certificate' % (host, port))
    return der, dns_check.normalize_address(peer)


def read_certificate_file(path):
    if os.path.isdir(path):
        raise VerifyError('certificate_path %s is a directory, not a certificate file' % path)
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except OSError as exc:
        raise VerifyError('cannot read certificate_path %s: %s' % (path, to_native(exc)))


def server_certificate(params, wanted_fqdn, result):
    """(certificate, what to call it in messages); with ``host``, the peer address joins ``result``."""
    if params['host']:
        server_name = wanted_fqdn or (None if is_ip(params['host']) else params['host'])
        data, peer = fetch_certificate(params, server_name)
        result['peer_address'] = peer
        if params['expected_addresses'] is None:
            result['expected_addresses'] = [peer]
            result['missing_addresses'] = [peer]
        source = 'certificate of %s port %d' % (params['host'], params['port'])
    elif params['certificate_path']:
        data, source = read_certificate_file(params['certificate_path']), 'certificate %s' % params['certificate_path']
    else:
        data, source = params['content'], 'certificate in content'
    try:
        return pki.load_certificate(data, what=source), source
    except pki.PKIError as exc:
        raise VerifyError(str(exc))


def problems_found(check, fqdn, common_name, wanted_fqdn):
    """What a phone would reject, as sentences (empty when it would accept the server)."""
    problems = []
    if check['dns_error']:
        problems.append(check['dns_error_msg'])
    elif check['missing_addresses']:
        missing = check['missing_addresses']
        problems.append('%s resolves to %s, which lacks %s: phones reject %s at %s'
                        % (fqdn, ', '.join(check['resolved_addresses']), ', '.join(missing),
                           'the server' if len(missing) == 1 else 'the servers', ', '.join(missing)))
    if wanted_fqdn and wanted_fqdn != fqdn:
        problems.append('the CN %r names %s, not the expected fqdn %s' % (common_name, fqdn, wanted_fqdn))
    return problems


def verify_cn_dns(module, result):
    """Run the phone's CN and DNS check; fills ``result`` (the module's return values, ``msg`` included)."""
    params = module.params
    result.update(changed=False, resolved_addresses=[], expected_addresses=[], missing_addresses=[],
                  ok=False, dns_error=None)
    wanted_fqdn = check_options(params)
    try:
        expected = dns_check.sort_addresses(params['expected_addresses'] or [])
    except ValueError as exc:
        raise VerifyError('expected_addresses: %s' % exc)
    for server in params['nameservers'] or []:
        if not is_ip(server):
            raise VerifyError('nameservers: %r is not an IP address' % server)
    result.update(expected_addresses=expected, missing_addresses=list(expected))

    cert, source = server_certificate(params, wanted_fqdn, result)
    expected = result['expected_addresses']
    common_name = result['common_name'] = pki.common_name(cert)
    if common_name is None:
        raise VerifyError('%s has no subject CN; the phone needs the server FQDN there' % source)
    try:
        fqdn = result['fqdn'] = split_cn(common_name)[0]
    except CNError as exc:
        raise VerifyError('%s breaks the CN rule: %s' % (source, exc))

    check = dns_check.check_addresses(fqdn, expected, nameservers=params['nameservers'],
                                      port=params['dns_port'], timeout=params['timeout'])
    for key in ('resolved_addresses', 'expected_addresses', 'missing_addresses', 'ok', 'dns_error'):
        result[key] = check[key]
    problems = problems_found(check, fqdn, common_name, wanted_fqdn)
    if problems:
        result['ok'] = False
        result['msg'] = 'CN/DNS check failed for %s: %s' % (source, '; '.join(problems))
        if params['fail_on_mismatch']:
            raise VerifyError(result['msg'])
        module.warn(result['msg'])
    elif expected:
        result['msg'] = '%s resolves to %s; every expected address (%s) is there' % (
            fqdn, ', '.join(check['resolved_addresses']), ', '.join(expected))
    else:
        result['msg'] = '%s resolves to %s (no expected_addresses given to compare)' % (
            fqdn, ', '.join(check['resolved_addresses']))
    return result
