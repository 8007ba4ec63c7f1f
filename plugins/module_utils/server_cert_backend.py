# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The server_cert module's backend: check the signed server certificate, then install it.

Every check runs before anything is written: the phones' CN rule and the expected FQDN, the DNS
SANs, the validity window, what a TLS server certificate must be, the private key, the chain to a
trusted root and the days left. A certificate that fails one is refused with nothing written.
The certificate and chain rules are pki_chain.py's. Errors are PKIError.
"""

from __future__ import annotations

import os

from ansible_collections.phoneprov.mpp.plugins.module_utils import pki, pki_chain
from ansible_collections.phoneprov.mpp.plugins.module_utils.cn import CNError, split_cn, validate_fqdn
from ansible_collections.phoneprov.mpp.plugins.module_utils.files import publish_file
from ansible_collections.phoneprov.mpp.plugins.module_utils.module_helper import merge_publish
from ansible_collections.phoneprov.mpp.plugins.module_utils.pki import PKIError


def refused(message):
    """The error of a certificate that is not installed."""
    return PKIError('certificate refused, nothing written: %s' % message)


def certificate_facts(leaf):
    """The return values that describe a certificate."""
    return dict(common_name=pki.common_name(leaf), subject_alt_names=pki.subject_alt_names(leaf),
                issuer=pki.name_rfc4514(leaf.issuer), serial=pki.serial_hex(leaf),
                not_before=pki.isoformat(pki.not_valid_before(leaf)), not_after=pki.isoformat(pki.not_valid_after(leaf)),
                days_remaining=pki.days_remaining(leaf), fingerprint=pki.certificate_fingerprint(leaf))


def cn_fqdn(common_name):
    """The FQDN of the certificate's CN; refused when there is no CN or it breaks the phones' CN rule."""
    if common_name is None:
        raise refused('the certificate has no subject CN; phones need the FQDN of the provisioning server there')
    try:
        return split_cn(common_name)[0]
    except CNError as exc:
        raise refused('the CN breaks the phones\' CN rule: %s' % exc)


def check_expected_fqdn(common_name, fqdn, wanted_fqdn):
    """Refuse a certificate whose CN names another FQDN than the ``fqdn`` option."""
    try:
        expected = validate_fqdn(wanted_fqdn)
    except CNError as exc:
        raise PKIError('option fqdn: %s' % exc)
    if expected != fqdn:
        raise refused('the CN %r names the FQDN %s, but fqdn is %s' % (common_name, fqdn, expected))


def san_warnings(sans, fqdn):
    """Warnings about the DNS SANs: phones check the CN, other TLS clients the SANs."""
    dns_sans = [san[4:] for san in sans if san.startswith('DNS:')]
    warnings = ['the certificate has the DNS SAN %r, the whole CN with its /suffix; a SAN should '
                'hold the FQDN alone (%s)' % (name, fqdn) for name in dns_sans if '/' in name]
    problem = pki_chain.san_problem(sans, fqdn)
    if problem:
        warnings.append(problem)
    return warnings


def check_san_names_fqdn(sans, fqdn, san_mismatch):
    """Refuse DNS SANs that do not name the FQDN, unless ``san_mismatch`` is ``warn`` (then san_warnings says it)."""
    problem = pki_chain.san_problem(sans, fqdn)
    if problem and san_mismatch == 'fail':
        raise refused('%s; the phones read only the CN: san_mismatch=warn installs it anyway' % problem)


def check_validity_and_usage(leaf):
    """Refuse a certificate outside its validity window or unfit for a TLS server (pki_chain.check_server_leaf)."""
    problem = pki.validity_problem(leaf)
    if problem:
        raise refused('the certificate %s' % problem)
    try:
        pki_chain.check_server_leaf(leaf)
    except PKIError as exc:
        raise refused(str(exc))


def trusted_chain(params, leaf, extra_intermediates, fqdn):
    """[leaf, intermediates..., root]: the chain to a root of ``ca_path`` (through ``chain_path``) that passes pki_chain's rules."""
    roots = pki.load_certificates(pki.read_input(params['ca_path'], 'ca_path'), 'ca_path %s' % params['ca_path'])
    intermediates = list(extra_intermediates)
    if params['chain_path']:
        intermediates += pki.load_certificates(pki.read_input(params['chain_path'], 'chain_path'),
                                               'chain_path %s' % params['chain_path'])
    try:
        chain = pki.build_chain(leaf, intermediates, roots)
    except PKIError as exc:
        raise refused('the certificate %s' % exc)
    try:
        return pki_chain.verify_chain(leaf, chain[1:-1], chain[-1:], fqdn)
    except PKIError as exc:
        raise refused(str(exc))


def install_server_cert(module, result):
    """Check the certificate and install it (and the full chain); fills ``result``."""
    params = module.params
    result.update(changed=False, path=params['path'])
    if params['fullchain_path']:
        result['fullchain_path'] = params['fullchain_path']
    if params['src']:
        data, what = pki.read_input(params['src'], 'src'), 'certificate %s' % params['src']
    else:
        data, what = params['content'], 'certificate content'
    try:
        certs = pki.load_certificates(data, what)
    except PKIError as exc:
        raise refused(str(exc))
    leaf = certs[0]
    result.update(certificate_facts(leaf))
    fqdn = result['fqdn'] = cn_fqdn(result['common_name'])
    if params['fqdn']:
        check_expected_fqdn(result['common_name'], fqdn, params['fqdn'])
    check_san_names_fqdn(result['subject_alt_names'], fqdn, params['san_mismatch'])
    for warning in san_warnings(result['subject_alt_names'], fqdn):
        module.warn(warning)
    check_validity_and_usage(leaf)
    key = pki.load_private_key_file(params['privatekey_path'], params['privatekey_passphrase'])
    if not pki.key_matches(key, leaf):
        raise refused('the certificate does not match the private key %s (public key fingerprints %s and %s)'
                      % (params['privatekey_path'], pki.public_key_fingerprint(leaf), pki.public_key_fingerprint(key)))
    chain = trusted_chain(params, leaf, certs[1:], fqdn)
    result['chain'] = [pki.name_rfc4514(cert.subject) for cert in chain]

    if result['days_remaining'] < params['min_days_valid']:
        raise PKIError('the certificate has only %d days of validity left (until %s), fewer than '
                       'min_days_valid %d; nothing written - get it renewed'
                       % (result['days_remaining'], result['not_after'], params['min_days_valid']))
    targets = [(params['path'], certs[:1], 'backup_file'), (params['fullchain_path'], chain[:-1], 'fullchain_backup_file')]
    for target, _certs, _backup_key in targets:
        if target and not module.check_mode and not os.path.isdir(os.path.dirname(os.path.abspath(target))):
            raise PKIError('destination directory of %s does not exist; nothing written' % target)
    for target, certs_to_write, backup_key in targets:
        if target:
            content = ''.join(pki.certificate_pem(cert) for cert in certs_to_write)
            merge_publish(result, publish_file(module, target, content, default_mode=0o644, backup=params['backup']),
                          backup_key)
    return result
