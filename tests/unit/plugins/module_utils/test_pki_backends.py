# -*- coding: utf-8 -*-
"""Unit tests of the keep/replace decisions and checks of the PKI module backends (real keys and certificates)."""

from __future__ import annotations

import pytest

from ansible_collections.phoneprov.mpp.plugins.module_utils import pki, pki_csr, pki_lab
from ansible_collections.phoneprov.mpp.plugins.module_utils.lab_ca_backend import LabCA
from ansible_collections.phoneprov.mpp.plugins.module_utils.server_cert_backend import (
    check_expected_fqdn, check_validity_and_usage, cn_fqdn, san_warnings)
from ansible_collections.phoneprov.mpp.plugins.module_utils.server_csr_backend import (
    existing_csr_matches, normalize_subject, subject_alt_names)
from ansible_collections.phoneprov.mpp.plugins.module_utils.server_key_backend import replacement_reason

PKIError = pki.PKIError


def key_params(**params):
    return dict(dict(path='/srv/server.key', passphrase=None, force=False), **params)


def test_key_kept_when_it_matches_replaced_when_it_differs_or_forced():
    key = pki.generate_private_key('ecc', curve='P-256')
    pem = pki.private_key_pem(key)
    assert replacement_reason(key_params(), pem, ('ecc', 256, 'P-256'))[0] is None
    assert replacement_reason(key_params(), pem, ('ecc', 384, 'P-384'))[0] == \
        'existing key is ecc P-256, ecc P-384 was asked for'
    assert replacement_reason(key_params(), pem, ('rsa', 2048, None))[0] == 'existing key is ecc P-256, rsa 2048 was asked for'
    assert replacement_reason(key_params(force=True), pem, ('ecc', 256, 'P-256'))[0] == 'force'


def test_unreadable_key_is_never_replaced():
    pem = pki.private_key_pem(pki.generate_private_key('ecc'), 'secret')
    with pytest.raises(PKIError, match='wrong passphrase; refusing to replace it'):
        replacement_reason(key_params(passphrase='other'), pem, ('ecc', 256, 'P-256'))


def test_csr_subject_and_sans():
    assert normalize_subject({'organizationName': 'Telco', 'c': 'US', 'OU': ''}, 'pv.telco.net/x') == \
        {'O': 'Telco', 'C': 'US', 'CN': 'pv.telco.net/x'}
    with pytest.raises(PKIError, match='differs from common_name'):
        normalize_subject({'CN': 'other.telco.net'}, 'pv.telco.net')
    with pytest.raises(PKIError, match='not supported'):
        normalize_subject({'title': 'x'}, 'pv.telco.net')
    with pytest.raises(PKIError, match='two-letter'):
        normalize_subject({'C': 'USA'}, 'pv.telco.net')
    assert subject_alt_names(None, 'pv.telco.net') == ['DNS:pv.telco.net']
    assert subject_alt_names([], 'pv.telco.net') == []
    with pytest.raises(PKIError, match='without the CN.s /suffix'):
        subject_alt_names(['DNS:pv.telco.net/mailto:x'], 'pv.telco.net')
    with pytest.raises(PKIError, match='do not include DNS:pv.telco.net'):
        subject_alt_names(['DNS:other.telco.net'], 'pv.telco.net')


def test_existing_csr_kept_only_while_everything_matches():
    key = pki.generate_private_key('ecc')
    subject, sans = {'CN': 'pv.telco.net'}, ['DNS:pv.telco.net']
    pem = pki_csr.csr_pem(pki_csr.build_csr(key, subject, sans)).encode()
    assert existing_csr_matches(pem, key, subject, sans, 'sha256')
    assert not existing_csr_matches(pem, key, subject, sans, 'sha384')
    assert not existing_csr_matches(pem, key, {'CN': 'pv2.telco.net'}, sans, 'sha256')
    assert not existing_csr_matches(pem, pki.generate_private_key('ecc'), subject, sans, 'sha256')
    assert not existing_csr_matches(b'not a CSR', key, subject, sans, 'sha256')


def test_server_certificate_checks(ca):
    assert cn_fqdn('pv.telco.net/mailto:a@telco.net') == 'pv.telco.net'
    with pytest.raises(PKIError, match="^certificate refused, nothing written: the CN breaks the phones' CN rule"):
        cn_fqdn('192.0.2.1')
    with pytest.raises(PKIError, match='names the FQDN pv.telco.net, but fqdn is other.telco.net'):
        check_expected_fqdn('pv.telco.net', 'pv.telco.net', 'other.telco.net')
    with pytest.raises(PKIError, match='^option fqdn: '):
        check_expected_fqdn('pv.telco.net', 'pv.telco.net', 'not a name')
    assert san_warnings(['DNS:pv.telco.net'], 'pv.telco.net') == []
    assert len(san_warnings(['DNS:pv.telco.net/x', 'IP:192.0.2.1'], 'pv.telco.net')) == 2
    client, _key = pki_lab.issue_client_certificate(ca[0], ca[1], mac='000e08abcdef', key_type='ecc')
    with pytest.raises(PKIError, match='does not include serverAuth'):
        check_validity_and_usage(client)
    expired, _key = pki_lab.issue_client_certificate(ca[0], ca[1], mac='000e08abcdef', key_type='ecc',
                                                     not_before='-10d', not_after='-1d')
    with pytest.raises(PKIError, match='has expired'):
        check_validity_and_usage(expired)


def test_lab_client_names():
    assert LabCA.client_name(0, {'mac': '00:0E:08:AB:CD:EF'}) == '000e08abcdef'
    assert LabCA.client_name(1, {'generic': True}) == 'generic'
    with pytest.raises(PKIError, match=r'^clients\[2\]: '):
        LabCA.client_name(2, {'mac': 'nope'})
    with pytest.raises(PKIError, match=r'^clients\[3\] must be a dict'):
        LabCA.client_name(3, '000e08abcdef')
