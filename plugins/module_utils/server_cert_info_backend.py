# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The server_cert_info module's backend: how long the server certificate has left.

The certificate comes from a file or live from a TLS server (the one nginx serves, fetched with
cn_dns_verify_backend.fetch_certificate, SNI included); its validity is read with module_utils/pki.py.
Days left below ``warn_days`` warn, below ``fail_days`` fail (:class:`CertInfoError`). Nothing
is changed.
"""

from __future__ import annotations

from ansible_collections.phoneprov.mpp.plugins.module_utils import pki
from ansible_collections.phoneprov.mpp.plugins.module_utils.cn_dns_verify_backend import (
    VerifyError, fetch_certificate, read_certificate_file)

EXPIRY_OK, EXPIRY_WARN, EXPIRY_FAIL = 'ok', 'warn', 'fail'


class CertInfoError(Exception):
    """The certificate could not be read, or it has fewer than fail_days left."""


def expiry_state(days_left, warn_days=None, fail_days=None):
    """'fail' under fail_days, 'warn' under warn_days, else 'ok' (a limit of None is not checked)."""
    if fail_days is not None and days_left < fail_days:
        return EXPIRY_FAIL
    if warn_days is not None and days_left < warn_days:
        return EXPIRY_WARN
    return EXPIRY_OK


def certificate_facts(cert, now=None):
    """The return values describing one certificate."""
    return {
        'subject': pki.name_rfc4514(cert.subject),
        'common_name': pki.common_name(cert),
        'issuer': pki.name_rfc4514(cert.issuer),
        'serial': pki.serial_hex(cert),
        'not_before': pki.isoformat(pki.not_valid_before(cert)),
        'not_after': pki.isoformat(pki.not_valid_after(cert)),
        'days_left': pki.days_remaining(cert, now),
        'fingerprint': pki.certificate_fingerprint(cert),
    }


def expiry_message(source, facts, state, warn_days, fail_days):
    text = '%s (%s, serial %s) is valid until %s: %d days left' % (
        source, facts['common_name'], facts['serial'], facts['not_after'], facts['days_left'])
    if state == EXPIRY_FAIL:
        return '%s, fewer than %d (fail_days): renew it now (playbook phoneprov.mpp.renew_cert)' % (text, fail_days)
    if state == EXPIRY_WARN:
        return '%s, fewer than %d (warn_days): start the renewal (playbook phoneprov.mpp.renew_cert)' % (text, warn_days)
    return text


def check_limits(params):
    for name in ('warn_days', 'fail_days'):
        if params[name] is not None and params[name] < 0:
            raise CertInfoError('%s must be 0 or more, got %d' % (name, params[name]))
    if params['host'] is not None:
        if not 0 < params['port'] < 65536:
            raise CertInfoError('port %d is not a port number (1-65535)' % params['port'])
        if params['timeout'] <= 0:
            raise CertInfoError('timeout must be more than 0 seconds, got %s' % params['timeout'])


def read_certificate(params, result):
    """(certificate, what to call it); a live fetch adds the peer address to ``result``."""
    try:
        if params['host']:
            server_name = params['server_name'] or params['host']
            fetch = dict(params, client_cert=None, client_key=None)
            data, peer = fetch_certificate(fetch, server_name)
            result['peer_address'] = peer
            source = 'the certificate %s port %d serves for %s' % (params['host'], params['port'], server_name)
        else:
            data = read_certificate_file(params['path'])
            source = 'the certificate %s' % params['path']
    except VerifyError as exc:
        raise CertInfoError(str(exc))
    try:
        return pki.load_certificate(data, what=source), source
    except pki.PKIError as exc:
        raise CertInfoError(str(exc))


def server_cert_info(module, result):
    """Fill ``result`` with the certificate's facts and expiry state; warn or fail as the limits say."""
    params = module.params
    result['changed'] = False
    check_limits(params)
    cert, source = read_certificate(params, result)
    result.update(certificate_facts(cert))
    state = expiry_state(result['days_left'], params['warn_days'], params['fail_days'])
    result['expiry'] = state
    result['msg'] = expiry_message(source, result, state, params['warn_days'], params['fail_days'])
    if state == EXPIRY_WARN:
        module.warn(result['msg'])
    if state == EXPIRY_FAIL:
        raise CertInfoError(result['msg'])
