# -*- coding: utf-8 -*-
from __future__ import annotations

import re

import pytest

from ansible_collections.phoneprov.mpp.plugins.module_utils.client_subject import (
    SubjectError, build_client_subject, client_identity, client_subject, nginx_attribute_map, nginx_generic_regex,
    nginx_identity_mac_map, nginx_identity_source_map, nginx_mac_map, parse_dn)

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


# --- the identity rule: st (default), cn_sep (MIC), attribute ---------------------------------

MIC = 'serialNumber=PID:CP-8861 SN:FCH2133E8B9, O=Cisco Systems Inc., OU=CTG, CN=CP-8861-SEP2C3124C9F8E1'


def test_cn_sep_reads_the_mic_subject_of_the_tac_example():
    assert client_subject(MIC, 'cn_sep') == {'model': 'CP-8861', 'serial': 'FCH2133E8B9', 'mac': '2c3124c9f8e1', 'generic': False}
    # cryptography prints serialNumber by its OID, nginx as serialNumber: both are the attribute.
    printed = 'CN=CP-8861-SEP2C3124C9F8E1,OU=CTG,O=Cisco Systems Inc.,2.5.4.5=PID:CP-8861 SN:FCH2133E8B9'
    assert client_subject(printed, {'rule': 'cn_sep'})['serial'] == 'FCH2133E8B9'


@pytest.mark.parametrize('cn, mac', [
    ('CP-8861-SEP2C3124C9F8E1', '2c3124c9f8e1'),
    ('SEP2c3124c9f8e1', '2c3124c9f8e1'),
    ('cp-8861-sep2C3124C9F8E1', '2c3124c9f8e1'),
    ('CP 8861 SEP2C3124C9F8E1', '2c3124c9f8e1'),
])
def test_cn_sep_takes_the_suffix_in_any_case(cn, mac):
    assert client_subject('CN=%s' % cn, 'cn_sep')['mac'] == mac


@pytest.mark.parametrize('cn', ['CP-8861-SEP2C3124C9F8E1X', 'CP-8861-2C3124C9F8E1', 'XSEP2C3124C9F8E1', 'SEP2C3124C9F8'])
def test_cn_sep_wants_the_sep_suffix(cn):
    with pytest.raises(SubjectError, match='SEP<mac>'):
        client_subject('CN=%s' % cn, 'cn_sep')


def test_never_twelve_hex_digits_anywhere():
    # The guide's serial is twelve hex digits itself: no rule reads a MAC from it.
    guide = 'OU=CP-8841-3PCC, L=88012BA01234, S=000e08abcdef'
    assert client_subject(guide)['mac'] == '000e08abcdef'
    for rule in ('cn_sep', {'rule': 'attribute', 'attribute': 'CN'}):
        with pytest.raises(SubjectError, match='no CN attribute'):
            client_subject('OU=CP-8841-3PCC, L=88012BA01234', rule)
    with pytest.raises(SubjectError, match='no ST'):
        client_subject('OU=CP-8841-3PCC, L=88012BA01234')


def test_attribute_rule_with_a_pattern():
    rule = {'rule': 'attribute', 'attribute': 'UID', 'pattern': 'mac-(?P<mac>[0-9a-f]{12})', 'serial': 'SN', 'model': 'PID'}
    parsed = client_subject('UID=mac-000e08abcdef,serialNumber=PID:CP-6851 SN:FCH1', rule)
    assert parsed == {'model': 'CP-6851', 'serial': 'FCH1', 'mac': '000e08abcdef', 'generic': False}
    with pytest.raises(SubjectError, match='does not hold a MAC'):
        client_subject('UID=mac-000e08abcdef-x', rule)


@pytest.mark.parametrize('spec, message', [
    ('sep', 'expected one of st, cn_sep, attribute'),
    ({'rule': 'attribute'}, 'needs attribute'),
    ({'rule': 'attribute', 'attribute': 'CN', 'pattern': '[0-9a-f]{12}'}, 'no group'),
    ({'rule': 'attribute', 'attribute': 'CN', 'pattern': '(?<mac>x)'}, 'not a regex|write named groups'),
    ({'rule': 'attribute', 'attribute': 'CN', 'pattern': '('}, 'not a regex'),
    ({'rule': 'st', 'pattern': 'x'}, 'takes no attribute'),
    ({'rule': 'st', 'model': 'CN'}, 'model comes from'),
    ({'rule': 'st', 'extra': 1}, 'unknown keys'),
    (['st'], 'must be a rule name'),
])
def test_bad_identity(spec, message):
    with pytest.raises(SubjectError, match=message):
        client_identity(spec)


def test_generic_certificate_under_every_rule():
    for rule in ('st', 'cn_sep'):
        assert client_subject('OU=cisco.com,L=ciscogeneric,ST=ciscogeneric', rule)['generic'] is True


def test_build_mic_subject_reads_back_under_cn_sep():
    subject = build_client_subject('00:0e:08:ab:cd:ef', 'CP-8861', 'FCH2133E8B9', style='mic')
    assert subject == {'serialNumber': 'PID:CP-8861 SN:FCH2133E8B9', 'O': 'Cisco Systems Inc.', 'OU': 'CTG',
                       'CN': 'CP-8861-SEP000E08ABCDEF'}
    assert client_subject(subject, 'cn_sep') == {'model': 'CP-8861', 'serial': 'FCH2133E8B9', 'mac': '000e08abcdef', 'generic': False}
    with pytest.raises(SubjectError, match='without white space'):
        build_client_subject('000e08abcdef', 'CP 8861', style='mic')
    with pytest.raises(SubjectError, match='style must be'):
        build_client_subject('000e08abcdef', style='lsc')


def _nginx_value(entries, dn):
    for regex, value in entries:
        match = _python(regex).search(dn)
        if match:
            return re.sub(r'\$(\w+)', lambda name: match.group(name.group(1)), value)
    return ''


# As nginx prints them (RFC 2253, reversed order).
@pytest.mark.parametrize('dn', [
    'CN=CP-8861-SEP2C3124C9F8E1,OU=CTG,O=Cisco Systems Inc.,serialNumber=PID:CP-8861 SN:FCH2133E8B9',
    'CN=SEP2c3124c9f8e1,serialNumber=PID:CP-8861 SN:FCH2133E8B9',
    'CN=CP-8861-SEP2C3124C9F8E1X,serialNumber=PID:CP-8861 SN:FCH2133E8B9',
    'CN=x\\,CN=SEP2C3124C9F8E1,OU=CTG',
    'CN=SEP2C3124C9F8E1,CN=CP-8861',
    'CN=CP-8861-SEP2C3124C9F8E1,serialNumber=SN:FCH2133E8B9 PID:CP-8861',
    'CN=CP-8861-SEP2C3124C9F8E1,serialNumber=XPID:a ZSN:b',
    'ST=000e08abcdef,L=88012BA01234,OU=CP-8841-3PCC',
    'ST=ciscogeneric,L=ciscogeneric,OU=cisco.com,CN=SEP2C3124C9F8E1',
])
@pytest.mark.parametrize('rule', ['st', 'cn_sep'])
def test_nginx_identity_maps_agree_with_client_subject(dn, rule):
    try:
        parsed = client_subject(dn, rule)
    except SubjectError:
        parsed = {'mac': None, 'generic': _nginx_generic(dn), 'serial': None, 'model': None}
    nginx_mac = '' if _nginx_generic(dn) else _nginx_value(nginx_identity_mac_map(rule, 'm'), dn).lower()
    assert nginx_mac == (parsed['mac'] or ''), dn
    if parsed['mac']:
        assert _nginx_value([nginx_identity_source_map(rule, 'serial', 's')], dn) == (parsed['serial'] or '')
        assert _nginx_value([nginx_identity_source_map(rule, 'model', 'o')], dn) == (parsed['model'] or '')


def test_nginx_attribute_rule():
    rule = {'rule': 'attribute', 'attribute': 'UID', 'pattern': 'mac-(?P<mac>[0-9a-f]{12})'}
    assert _nginx_value(nginx_identity_mac_map(rule, 'm'), 'UID=mac-000e08abcdef,OU=CP') == '000e08abcdef'
    assert _nginx_value(nginx_identity_mac_map(rule, 'm'), 'UID=mac-000e08abcdefx,OU=CP') == ''
    assert _nginx_value(nginx_identity_mac_map(rule, 'm'), 'CN=UID=mac-000e08abcdef') == ''


# --- two attributes of the identity's attribute: refused by Python and nginx alike -------------

@pytest.mark.parametrize('subject, rule, attribute', [
    ('OU=CP-8841-3PCC, L=88012BA01234, S=000e08abcdef, S=00562b043615', 'st', 'ST'),
    ('ST=000e08abcdef,ST=000e08abcdef,OU=CP', 'st', 'ST'),                 # the same MAC twice too
    ('ST=000e08abcdef+ST=00562b043615,OU=CP', 'st', 'ST'),                 # in one multi-valued RDN
    ('/OU=CP/ST=000e08abcdef/stateOrProvinceName=00562b043615', 'st', 'ST'),
    ('CN=SEP2C3124C9F8E1,CN=CP-8861-SEP000E08ABCDEF', 'cn_sep', 'CN'),
    ('UID=000e08abcdef,UID=00562b043615', {'rule': 'attribute', 'attribute': 'UID'}, 'UID'),
])
def test_two_identity_attributes_are_refused(subject, rule, attribute):
    with pytest.raises(SubjectError, match='%s attributes' % attribute):
        client_subject(subject, rule)


@pytest.mark.parametrize('dn, rule', [
    ('ST=000e08abcdef,ST=00562b043615,OU=CP', 'st'),
    ('ST=000e08abcdef,ST=000e08abcdef,OU=CP', 'st'),
    ('ST=000e08abcdef+ST=00562b043615,OU=CP', 'st'),
    ('OU=CP,ST=00:0e:08:ab:cd:ef,L=1,ST=000e08abcdef', 'st'),
    ('CN=SEP2C3124C9F8E1,OU=CTG,CN=CP-8861-SEP000E08ABCDEF', 'cn_sep'),
    ('UID=000e08abcdef,OU=x,UID=00562b043615', {'rule': 'attribute', 'attribute': 'UID'}),
])
def test_nginx_gives_no_mac_for_two_identity_attributes(dn, rule):
    assert _nginx_value(nginx_identity_mac_map(rule, 'm'), dn) == ''


def test_one_identity_attribute_among_other_duplicates_still_names_the_phone():
    dn = 'OU=a,OU=CP-8841-3PCC,L=1,L=88012BA01234,ST=000e08abcdef,CN=x\\,ST=00562b043615'
    assert client_subject(dn)['mac'] == '000e08abcdef'
    assert _nginx_value(nginx_identity_mac_map('st', 'm'), dn) == '000e08abcdef'
    # A generic certificate stays generic (no MAC either way), whatever its ST attributes hold.
    assert client_subject('OU=cisco.com,L=ciscogeneric,ST=000e08abcdef,ST=ciscogeneric')['generic'] is True
