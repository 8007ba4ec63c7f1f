# -*- coding: utf-8 -*-
"""Unit tests of module_utils/pki_lab.py: validity offsets, server and phone client signing."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.phoneprov.mpp.plugins.module_utils import pki, pki_lab
from ansible_collections.phoneprov.mpp.plugins.module_utils.client_subject import client_subject

NOW = datetime.datetime(2026, 6, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize('text, delta', [
    ('+365d', datetime.timedelta(days=365)), ('-10d', -datetime.timedelta(days=10)), ('12h', datetime.timedelta(hours=12)),
    ('-30m', -datetime.timedelta(minutes=30)), ('+0s', datetime.timedelta()), ('2w', datetime.timedelta(weeks=2)),
    ('7', datetime.timedelta(days=7))])
def test_parse_time_relative(text, delta):
    assert pki_lab.parse_time(text, NOW) == NOW + delta


def test_parse_time_absolute_and_errors():
    expected = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    assert pki_lab.parse_time('2030-01-02T03:04:05Z', NOW) == expected
    assert pki_lab.parse_time('20300102030405Z', NOW) == expected
    assert pki_lab.parse_time('2030-01-02', NOW) == expected.replace(hour=0, minute=0, second=0)
    with pytest.raises(pki.PKIError, match='neither a relative offset'):
        pki_lab.parse_time('soon', NOW)
    with pytest.raises(pki.PKIError, match='must be later than not_before'):
        pki_lab.validity_window(365, '+1d', '-1d', NOW)
    start, end = pki_lab.validity_window(30, None, None, NOW)
    assert end - NOW == datetime.timedelta(days=30) and NOW - start == datetime.timedelta(minutes=5)


def test_server_signing_keeps_csr_subject_and_sans(ca, server):
    cert, key, csr = server
    assert cert.subject == csr.subject
    assert pki.subject_alt_names(cert) == ['DNS:pv.example.net']
    assert pki.extended_key_usages(cert) == ['serverAuth']
    assert pki.key_matches(key, cert)
    assert pki_lab.issued_by_matches(cert, ca[0], csr.subject, csr.public_key(), ['DNS:pv.example.net'])
    assert not pki_lab.issued_by_matches(cert, ca[0], sans=['DNS:other.example.net'])
    assert not pki_lab.is_ca(cert) and pki_lab.is_ca(ca[0])
    assert int(pki.serial_hex(cert), 16) == cert.serial_number and len(pki.serial_hex(cert)) % 2 == 0


def test_client_certificates_follow_the_subject_rule(ca):
    cert, key = pki_lab.issue_client_certificate(ca[0], ca[1], mac='00:0E:08:AB:CD:EF', model='CP-8841-3PCC',
                                                 serial='88012BA01234', key_type='ecc')
    assert pki.name_rfc4514(cert.subject) == 'OU=CP-8841-3PCC,L=88012BA01234,ST=000e08abcdef'
    assert client_subject(pki.name_rfc4514(cert.subject)) == {
        'model': 'CP-8841-3PCC', 'serial': '88012BA01234', 'mac': '000e08abcdef', 'generic': False}
    assert pki.extended_key_usages(cert) == ['clientAuth']
    assert pki.key_matches(key, cert) and pki.signed_by(cert, ca[0])
    generic, _k = pki_lab.issue_client_certificate(ca[0], ca[1], generic=True, key_type='ecc')
    assert client_subject(pki.name_rfc4514(generic.subject))['generic'] is True
    with pytest.raises(pki.PKIError, match='invalid MAC address'):
        pki_lab.issue_client_certificate(ca[0], ca[1], mac='not-a-mac', key_type='ecc')
    with pytest.raises(pki.PKIError, match='needs the phone'):
        pki.client_subject_attributes()
