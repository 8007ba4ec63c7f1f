# -*- coding: utf-8 -*-
"""Unit tests for module_utils/profile_rule: the macro expander, Profile_Rule options and URLs."""

from __future__ import annotations

import pytest

from ansible_collections.phoneprov.mpp.plugins.module_utils import profile_rule as pr

MAC = '00:0E:08:AB:CD:EF'


def values(**kwargs):
    args = dict(mac=MAC, model='CP-8841-3PCC', serial='FCH123', client_cert_installed=True, firmware='12.0.1')
    args.update(kwargs)
    return pr.macro_values(**args)


@pytest.mark.parametrize('text, expected', [
    ('/cfg/$MA.xml', '/cfg/000e08abcdef.xml'),
    ('/cfg/$MAU.xml', '/cfg/000E08ABCDEF.xml'),
    ('/cfg/$MAC', '/cfg/00:0e:08:ab:cd:ef'),
    ('/$PN/$PSN/$SN', '/CP-8841-3PCC/8841/FCH123'),
    ('/$(MA)x', '/000e08abcdefx'),
    ('/$MAfoo', '/000e08abcdeffoo'),
    ('/c=$CCERT', '/c=Installed'),
    ('/v$SWVER', '/v12.0.1'),
    ('/a$$b', '/a$b'),
    ('/$ZZ', '/$ZZ'),
])
def test_macros(text, expected):
    assert pr.expand_macros(text, values()) == expected


def test_url_expansion_percent_encodes_values():
    table = values(client_cert_installed=False, macros={'A': 'a b?c#d%'})
    assert pr.expand_macros('/x?c=$CCERT&a=$A', table, url=True) == '/x?c=Not%20Installed&a=a%20b%3Fc%23d%25'
    assert pr.expand_macros('/$MAC', table, url=True) == '/00:0e:08:ab:cd:ef'


def test_ccert_not_installed_and_gpp():
    table = values(client_cert_installed=False, macros={'B': 'k', 'GPP_C': 'c', 'ip': '192.0.2.1'})
    assert pr.expand_macros('$CCERT/$B/$C/$IP', table) == 'Not Installed/k/c/192.0.2.1'


@pytest.mark.parametrize('text, missing', [('$SN', 'serial'), ('$B', "macros: {B"), ('$HWVER', 'HWVER')])
def test_macro_without_value_names_it(text, missing):
    table = values(serial=None)
    with pytest.raises(pr.EmulatorError, match=r'\$%s' % text[1:]) as info:
        pr.expand_macros(text, table)
    assert missing in str(info.value)


def test_macros_refuse_bad_input():
    with pytest.raises(pr.EmulatorError, match='invalid MAC'):
        values(mac='00:11')
    with pytest.raises(pr.EmulatorError, match='unknown macro'):
        values(macros={'Q': 'x'})
    with pytest.raises(pr.EmulatorError, match='cannot be set'):
        values(macros={'MA': 'x'})


@pytest.mark.parametrize('rule, options, url', [
    ('https://p.example.net/$MA.xml', {}, 'https://p.example.net/$MA.xml'),
    ('[--key "$B"] https://p.example.net/$MA.cfg', {'key': '$B'}, 'https://p.example.net/$MA.cfg'),
    ("[--key 'a b]c'] https://p/x", {'key': 'a b]c'}, 'https://p/x'),
    ('[--key secret --uid u --pwd "p w"]https://p/x', {'key': 'secret', 'uid': 'u', 'pwd': 'p w'}, 'https://p/x'),
    ('  [ --alias b ]  http://p/x ', {'alias': 'b'}, 'http://p/x'),
])
def test_rule_options(rule, options, url):
    assert pr.parse_profile_rule(rule) == (options, url)


@pytest.mark.parametrize('rule, message', [
    ('', 'empty'),
    ('[--key x https://p/x', 'not closed'),
    ('[--bogus x] https://p/x', "'--bogus' is not one the phone knows"),
    ('[--key] https://p/x', 'needs a value'),
    ('[--key x]', 'no URL'),
    ('[--key "x] https://p/x', 'not closed'),
])
def test_rule_errors(rule, message):
    with pytest.raises(pr.EmulatorError, match=message.replace('[', r'\[')):
        pr.parse_profile_rule(rule)


@pytest.mark.parametrize('url, expected', [
    ('https://p.example.net/a/b.xml?x=1', ('https', 'p.example.net', 443, '/a/b.xml?x=1')),
    ('http://p.example.net:8080', ('http', 'p.example.net', 8080, '/')),
    ('https://[::1]:4443/x', ('https', '::1', 4443, '/x')),
])
def test_parse_url(url, expected):
    assert pr.parse_url(url) == expected


@pytest.mark.parametrize('url, message', [
    ('p.example.net/x.xml', 'TFTP'), ('tftp://p/x', 'not supported'), ('https:///x', 'no host'),
    ('https://p:99999/x', 'invalid port')])
def test_parse_url_errors(url, message):
    with pytest.raises(pr.EmulatorError, match=message):
        pr.parse_url(url)
