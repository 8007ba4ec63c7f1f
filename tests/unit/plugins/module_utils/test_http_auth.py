# -*- coding: utf-8 -*-
"""Unit tests for module_utils/http_auth: WWW-Authenticate parsing, Digest (RFC 2617/7616 examples) and Basic."""

from __future__ import annotations

import pytest

from ansible_collections.phoneprov.mpp.plugins.module_utils import http_auth as ha


def test_parse_challenges():
    got = ha.parse_challenges(['Digest realm="a, b", qop="auth,auth-int", nonce="n\\"1", algorithm=MD5',
                               'Basic realm="x"'])
    assert got == [('digest', {'realm': 'a, b', 'qop': 'auth,auth-int', 'nonce': 'n"1', 'algorithm': 'MD5'}),
                   ('basic', {'realm': 'x'})]


def test_digest_rfc2617_example():
    # The worked example of RFC 2617 section 3.5.
    params = {'realm': 'testrealm@host.com', 'qop': 'auth,auth-int', 'nonce': 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
              'opaque': '5ccc069c403ebaf9f0171e9517f40e41'}
    header = ha.digest_authorization(params, 'GET', '/dir/index.html', 'Mufasa', 'Circle Of Life', nc=1,
                                     cnonce='0a4f113b')
    assert 'response="6629fae49393a05397450978507c4ef1"' in header
    assert 'qop=auth, nc=00000001, cnonce="0a4f113b"' in header
    assert 'opaque="5ccc069c403ebaf9f0171e9517f40e41"' in header


def test_digest_sha256_rfc7616_example():
    # RFC 7616 section 3.9.1 (SHA-256).
    params = {'realm': 'http-auth@example.org', 'qop': 'auth, auth-int', 'algorithm': 'SHA-256',
              'nonce': '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v', 'opaque': 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS'}
    header = ha.digest_authorization(params, 'GET', '/dir/index.html', 'Mufasa', 'Circle of Life', nc=1,
                                     cnonce='f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ')
    assert 'response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"' in header


def test_authorization_prefers_digest_and_refuses_unknown():
    challenges = [('basic', {'realm': 'x'}), ('digest', {'realm': 'x', 'nonce': 'n'})]
    assert ha.authorization_for(challenges, 'GET', '/', 'u', 'p')[0] == 'Digest'
    assert ha.authorization_for([('basic', {})], 'GET', '/', 'u', 'p') == ('Basic', 'Basic dTpw')
    assert ha.authorization_for([('negotiate', {})], 'GET', '/', 'u', 'p') == (None, None)
    with pytest.raises(ha.EmulatorError, match='SHA-512-256'):
        ha.digest_authorization({'algorithm': 'SHA-512-256'}, 'GET', '/', 'u', 'p')
