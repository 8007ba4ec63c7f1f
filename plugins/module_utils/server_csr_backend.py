# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The server_csr module's backend: the provisioning server's CSR, checked against the CN rule.

The CN is checked with module_utils/cn.py before anything is written; the default SAN is the
CN's FQDN alone. An existing CSR is kept while its subject, SANs, digest and key are those
asked for. Errors are PKIError.
"""

from __future__ import annotations

import os

from ansible_collections.phoneprov.mpp.plugins.module_utils import pki, pki_csr
from ansible_collections.phoneprov.mpp.plugins.module_utils.cn import CNError, fqdn_problem, split_cn
from ansible_collections.phoneprov.mpp.plugins.module_utils.files import publish_file, read_bytes
from ansible_collections.phoneprov.mpp.plugins.module_utils.module_helper import merge_publish
from ansible_collections.phoneprov.mpp.plugins.module_utils.pki import PKIError

_SUBJECT_KEYS = {'c': 'C', 'countryname': 'C', 'st': 'ST', 's': 'ST', 'stateorprovincename': 'ST',
                 'l': 'L', 'localityname': 'L', 'o': 'O', 'organizationname': 'O',
                 'ou': 'OU', 'organizationalunitname': 'OU', 'emailaddress': 'emailAddress',
                 'cn': 'CN', 'commonname': 'CN'}


def normalize_subject(subject, common_name):
    """The subject option as a dict of short names, with ``common_name`` as its CN."""
    out = {}
    for key, value in (subject or {}).items():
        short = _SUBJECT_KEYS.get(str(key).lower())
        if short is None:
            raise PKIError('subject key %r is not supported; use C, ST, L, O, OU or emailAddress' % key)
        if value is None or str(value) == '':
            continue
        out[short] = str(value)
    if 'CN' in out and out['CN'] != common_name:
        raise PKIError('subject CN %r differs from common_name %r; set the CN with common_name only'
                       % (out['CN'], common_name))
    out['CN'] = common_name
    pki.build_name(out)  # refuses what a certificate subject cannot hold
    return out


def subject_alt_names(sans, fqdn):
    """Canonical SANs (default ``DNS:<fqdn>``); DNS ones must be host FQDNs, and the FQDN among them."""
    sans = pki.normalize_sans(['DNS:%s' % fqdn] if sans is None else sans)
    dns_names = [san[4:] for san in sans if san.startswith('DNS:')]
    for name in dns_names:
        problem = fqdn_problem(name)
        if problem:
            raise PKIError('subject alternative name DNS:%s %s; a SAN holds the FQDN alone, '
                           'without the CN\'s /suffix' % (name, problem))
    if dns_names and fqdn not in [name.lower() for name in dns_names]:
        raise PKIError('subject_alt_names %s do not include DNS:%s, the FQDN of the CN that phones '
                       'connect to' % (', '.join(sans), fqdn))
    return sans


def existing_csr_matches(existing, key, subject, sans, digest):
    """True when the existing CSR (bytes) verifies and has the subject, SANs, digest and key asked for."""
    try:
        old = pki_csr.load_csr(existing)
    except PKIError:
        return False
    return (pki_csr.csr_signature_valid(old)
            and old.subject == pki.build_name(subject)
            and sorted(pki.subject_alt_names(old)) == sorted(sans)
            and pki_csr.hash_name(old.signature_hash_algorithm) == digest
            and pki.key_matches(key, old))


def ensure_server_csr(module, result):
    """Keep or (re)write the CSR at ``path``; fills ``result`` (the module's return values)."""
    params = module.params
    path, common_name, digest = params['path'], params['common_name'], params['digest']
    result['common_name'] = common_name
    try:
        fqdn = split_cn(common_name)[0]
    except CNError as exc:
        raise PKIError('common_name refused: %s' % exc)
    result.update(changed=False, path=path, fqdn=fqdn, digest=digest, csr=None)

    if digest in pki_csr.WEAK_DIGESTS:
        if not params['allow_weak']:
            raise PKIError('digest %s is weak and refused; use sha256 (Cisco\'s portal recommends it), '
                           'or set allow_weak: true' % digest)
        module.warn('signing the CSR with the weak digest %s because allow_weak is true' % digest)
    subject = result['subject'] = normalize_subject(params['subject'], common_name)
    sans = result['subject_alt_names'] = subject_alt_names(params['subject_alt_names'], fqdn)
    key = pki.load_private_key_file(params['privatekey_path'], params['privatekey_passphrase'],
                                    '; create it first with phoneprov.mpp.server_key')
    if os.path.isdir(path):
        raise PKIError('path %s is a directory, not a CSR file' % path)

    existing = read_bytes(path)
    if existing is not None and not params['force'] and existing_csr_matches(existing, key, subject, sans, digest):
        result['csr'] = existing.decode('ascii', 'replace') if pki.is_pem(existing) else \
            pki_csr.csr_pem(pki_csr.load_csr(existing))
        result['changed'] = publish_file(module, path, existing, default_mode=0o644)['changed']
        return result
    result['csr'] = pki_csr.csr_pem(pki_csr.build_csr(key, subject, sans, digest))
    return merge_publish(result, publish_file(module, path, result['csr'], default_mode=0o644, backup=params['backup']))
