# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""server_cert_info_backend: days left, the warn/fail limits and the facts of a certificate."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.phoneprov.mpp.plugins.module_utils import server_cert_info_backend as backend

NOW = datetime.datetime(2026, 6, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)


def make_cert(days_left, cn='pv.telco.net', serial=0x5A3F09):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(serial).not_valid_before(NOW - datetime.timedelta(days=300))
            .not_valid_after(NOW + datetime.timedelta(days=days_left, hours=1))
            .sign(key, hashes.SHA256()))


@pytest.mark.parametrize('days, warn, fail, state', [
    (100, 60, 14, 'ok'),
    (60, 60, 14, 'ok'),
    (59, 60, 14, 'warn'),
    (14, 60, 14, 'warn'),
    (13, 60, 14, 'fail'),
    (-3, 60, 14, 'fail'),
    (-3, None, None, 'ok'),
    (5, 60, None, 'warn'),
    (5, None, 10, 'fail'),
])
def test_expiry_state(days, warn, fail, state):
    assert backend.expiry_state(days, warn, fail) == state


def test_certificate_facts():
    facts = backend.certificate_facts(make_cert(42), now=NOW)
    assert facts['days_left'] == 42
    assert facts['common_name'] == 'pv.telco.net'
    assert facts['subject'] == 'CN=pv.telco.net'
    assert facts['serial'] == '5A3F09'
    assert facts['not_after'] == '2026-07-13T13:00:00Z'
    assert len(facts['fingerprint'].split(':')) == 32


def test_expired_certificate_has_negative_days():
    assert backend.certificate_facts(make_cert(-10), now=NOW)['days_left'] == -10


@pytest.mark.parametrize('state, words', [
    ('ok', None), ('warn', 'fewer than 60 (warn_days)'), ('fail', 'fewer than 14 (fail_days)')])
def test_expiry_message_names_the_limit(state, words):
    facts = backend.certificate_facts(make_cert(10), now=NOW)
    text = backend.expiry_message('the certificate x', facts, state, 60, 14)
    assert '10 days left' in text and 'serial 5A3F09' in text
    if words:
        assert words in text and 'renew_cert' in text
    else:
        assert 'renew' not in text


@pytest.mark.parametrize('params, words', [
    (dict(warn_days=-1, fail_days=None, host=None), 'warn_days must be 0 or more'),
    (dict(warn_days=None, fail_days=-5, host=None), 'fail_days must be 0 or more'),
    (dict(warn_days=None, fail_days=None, host='127.0.0.1', port=70000, timeout=1), 'not a port number'),
    (dict(warn_days=None, fail_days=None, host='127.0.0.1', port=443, timeout=0), 'timeout'),
])
def test_bad_limits(params, words):
    with pytest.raises(backend.CertInfoError, match=words):
        backend.check_limits(params)
