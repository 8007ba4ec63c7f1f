# -*- coding: utf-8 -*-
from __future__ import annotations

import pytest

from ansible_collections.phoneprov.mpp.plugins.module_utils.client_subject import (
    SubjectError, client_subject, parse_dn)

PHONE = {'model': 'CP-8841-3PCC', 'serial': '88012BA01234', 'mac': '000e08abcdef', 'generic': False}


@pytest.mark.parametrize('subject', [
    'OU=CP-8841-3PCC, L=88012BA01234, S=000e08abcdef',                      # the guide's print
    'CN=phone,OU=CP-8841-3PCC,L=88012BA01234,ST=000e08abcdef,O=Cisco,C=US',  # nginx $ssl_client_s_dn
    'C = US, ST = 000e08abcdef, L = 88012BA01234, O = Cisco, OU = CP-8841-3PCC, CN = phone',  # openssl
    'subject=C = US, ST = 000E08ABCDEF, L = 88012BA01234, OU = CP-8841-3PCC',
    '/C=US/ST=00:0e:08:ab:cd:ef/L=88012BA01234/OU=CP-8841-3PCC/CN=phone',   # legacy slash form
    'stateOrProvinceName=000e08abcdef, localityName=88012BA01234, organizationalUnitName=CP-8841-3PCC',
])
def test_subject_spellings(subject):
    assert client_subject(subject) == PHONE


def test_rfc2253_escapes():
    subject = r'CN=Phone\, lobby,OU=CP-8841-3PCC,L=88012BA01234,ST=000e08abcdef,O=ACME \2B Co'
    attrs = parse_dn(subject)
    assert attrs['CN'] == 'Phone, lobby'
    assert attrs['O'] == 'ACME + Co'
    assert client_subject(subject)['mac'] == '000e08abcdef'


@pytest.mark.parametrize('subject', [
    'OU=cisco.com, L=ciscogeneric, S=ciscogeneric',
    'CN=x,OU=cisco.com,L=ciscogeneric,ST=ciscogeneric',
])
def test_generic_certificate(subject):
    assert client_subject(subject) == {'model': 'cisco.com', 'serial': None, 'mac': None, 'generic': True}


@pytest.mark.parametrize('subject, reason', [
    ('OU=CP-8841-3PCC, L=88012BA01234', 'no ST'),
    ('OU=CP-8841-3PCC, L=88012BA01234, S=not-a-mac', 'holds no MAC'),
    ('', 'empty'),
    ('garbage', 'NAME=VALUE'),
])
def test_bad_subjects(subject, reason):
    with pytest.raises(SubjectError, match=reason):
        client_subject(subject)
