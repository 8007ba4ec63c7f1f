# -*- coding: utf-8 -*-
from __future__ import annotations

import pytest

from ansible_collections.phoneprov.mpp.plugins.module_utils.cn import (
    CNError, cn_fqdn, cn_problem, cn_valid, split_cn, validate_fqdn)


@pytest.mark.parametrize('cn, fqdn, suffix', [
    ('sprov.callme.com', 'sprov.callme.com', None),
    ('pv.telco.net/mailto:admin@telco.net', 'pv.telco.net', 'mailto:admin@telco.net'),
    ('prof.voice.com/info@voice.com', 'prof.voice.com', 'info@voice.com'),
    ('CN=sprov.callme.com', 'sprov.callme.com', None),
    ('Prov.Example.NET', 'prov.example.net', None),
    ('a-b.c1.example', 'a-b.c1.example', None),
    ('x.y/', 'x.y', ''),
    ('%s.example.com' % ('a' * 63), '%s.example.com' % ('a' * 63), None),
])
def test_guide_and_valid_cns(cn, fqdn, suffix):
    assert cn_valid(cn)
    assert cn_fqdn(cn) == fqdn
    assert split_cn(cn) == (fqdn, suffix)


@pytest.mark.parametrize('cn, reason', [
    ('', 'empty'),
    ('192.0.2.10', 'all-numeric'),
    ('10.0.0.1/x', 'all-numeric'),
    ('2001:db8::1', 'IPv6'),
    ('*.x.net', 'wildcard'),
    ('x_y.net', 'characters other than'),
    ('prov', 'single label'),
    ('-a.example.com', 'hyphen'),
    ('a-.example.com', 'hyphen'),
    ('a..example.com', 'empty label'),
    ('prov.example.com.', 'trailing root dot'),
    ('%s.example.com' % ('a' * 64), 'at most 63'),
    ('.'.join(['abcdefghi'] * 26), 'at most 253'),
    ('pröv.example.com', 'characters other than'),
    ('prov example.com', 'characters other than'),
    ('/mailto:admin@telco.net', 'empty'),
])
def test_invalid_cns_name_the_reason(cn, reason):
    assert not cn_valid(cn)
    assert reason in cn_problem(cn)
    with pytest.raises(CNError, match=reason):
        cn_fqdn(cn)


def test_non_string_is_refused():
    assert not cn_valid(None)
    assert not cn_valid(42)


def test_validate_fqdn_refuses_suffix():
    assert validate_fqdn('Prov.Example.com') == 'prov.example.com'
    with pytest.raises(CNError):
        validate_fqdn('prov.example.com/x')
