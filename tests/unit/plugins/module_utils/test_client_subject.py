# -*- coding: utf-8 -*-
from __future__ import annotations

import re

import pytest

from ansible_collections.phoneprov.mpp.plugins.module_utils.client_subject import (
    SubjectError, client_subject, nginx_attribute_map, nginx_generic_regex, nginx_mac_map, parse_dn)

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


# --- the nginx regexes generated from the rule agree with client_subject() ---------------------

def _python(regex):
    # PCRE's (?<name>...) is Python's (?P<name>...); nothing else of PCRE is used.
    return re.compile(regex.replace('(?<', '(?P<').replace('(?P<!', '(?<!').replace('(?P<=', '(?<='))


def _nginx_mac(dn):
    for regex, value in nginx_mac_map('m'):
        match = _python(regex).search(dn)
        if match:
            return re.sub(r'\$(\w+)', lambda name: match.group(name.group(1)), value)
    return ''


def _nginx_generic(dn):
    return bool(_python(nginx_generic_regex()).search(dn))


# As nginx's $ssl_client_s_dn prints them (OpenSSL RFC 2253: reversed order, \XX for control and
# non-ASCII octets, leading and trailing spaces escaped).
@pytest.mark.parametrize('dn', [
    'ST=000e08abcdef,L=88012BA01234,OU=CP-8841-3PCC',
    'CN=x,ST=00:0E:08:AB:CD:EF,OU=CP',
    'ST=\\ 00-0e-08-ab-cd-ef\\ ,OU=CP',
    'ST=\\  000e.08ab.cdef \\ ,OU=CP',
    'ST=\\09000e08abcdef\\0A,OU=CP',
    'ST=\\C2\\A0000e08abcdef\\E3\\80\\80,OU=CP',
    'ST=\\"000e08abcdef\\",OU=CP',
    'ST=\\#000e08abcdef,OU=CP',
    'ST=000e08abcdef\\,,OU=CP',
    'ST=000e08abcdef\\7F,OU=CP',
    'ST=,OU=CP',
    'CN=x\\,ST=000e08abcdef,L=FCH0000FORG,OU=CP',       # ST inside an escaped CN value
    'CN=a\\\\,ST=000e08abcdef,OU=CP',                     # escaped backslash, then a real ST
    'ST=000e08abcdef+L=88012BA01234,OU=CP',             # multi-valued RDN
    'OU=CP,ST=000e08abcdef,ST=not-a-mac',               # the last ST counts
    'ST=not-a-mac,ST=000e08abcdef',
    'CN=a=ST=000e08abcdef,OU=CP',
    'ST=ciscogeneric,L=ciscogeneric,OU=cisco.com',
    'ST=000e08abcdef,L=CiscoGeneric,OU=cisco.com',      # generic, even with a MAC in ST
    'ST=000e08abcdef,L=ciscogeneric\\ ,OU=cisco.com',   # not the marker: a trailing space
    'L=ciscogeneric,L=FCH1,ST=000e08abcdef',             # the last L counts
])
def test_nginx_regexes_agree_with_client_subject(dn):
    try:
        parsed = client_subject(dn)
    except SubjectError:
        parsed = {'mac': None, 'generic': False}
    assert _nginx_generic(dn) == parsed['generic'], dn
    nginx_mac = '' if _nginx_generic(dn) else _nginx_mac(dn).lower()
    assert nginx_mac == (parsed['mac'] or ''), dn


def test_escapes_are_read_once_and_as_utf8():
    assert parse_dn('CN=a\\\\41,O=\\C3\\84rger \\2B Co')['CN'] == 'a\\41'
    assert parse_dn('CN=a\\\\41,O=\\C3\\84rger \\2B Co')['O'] == u'\xc4rger + Co'
    assert parse_dn('CN=\\"kept\\"')['CN'] == '"kept"'


def test_nginx_serial_and_model_take_the_last_value():
    regex, value = nginx_attribute_map('L', 'sn')
    match = _python(regex).search('ST=000e08abcdef,L=FCH\\,1,OU=CP,L=FCH2')
    assert match.group('sn') == 'FCH2' and value == '$sn'
