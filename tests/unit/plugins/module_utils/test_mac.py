# -*- coding: utf-8 -*-
from __future__ import annotations

import sys

import pytest

from ansible_collections.phoneprov.mpp.plugins.module_utils.mac import (
    SPELLINGS, WHITESPACE, MACError, is_mac, mac_colon, mac_upper, normalize_mac, spelling_regex)

# Spellings of 00:0e:08:ab:cd:ef the MAC rule accepts and strings it refuses. The same lists go
# through the real nginx as a client certificate's ST (tests/integration/test_nginx_rules.py).
GOOD_SPELLINGS = [
    '00:0E:08:AB:CD:EF', '00-0e-08-ab-cd-ef', '000e.08ab.cdef', '000E08ABCDEF', '000e08abcdef',
    ' 00:0e:08:ab:cd:ef ', '  000E.08AB.CDEF  ', '\t000e08abcdef\n', u'\xa000-0e-08-ab-cd-ef\u3000',
]
BAD_SPELLINGS = [
    '', '000e08abcde', '000e08abcdef0', '00:0e:08:ab:cd', '00:0e-08:ab:cd:ef', 'g00e08abcdef',
    '000e:08ab:cdef', '0:e:8:ab:cd:ef', '00 0e 08 ab cd ef', None, 0x000e08abcdef,
    '00:0e-08:ab-cd:ef', '00.0e.08.ab.cd.ef', '000e-08ab-cdef', '"000e08abcdef"', '#000e08abcdef',
    '000e08abcdef,', '000e08abcdef+', '000e08abcdef\\', '000e08abcdef\x7f', '000e08\nabcdef',
    u'\uff10\uff10\uff10e08abcdef', 'x,ST=000e08abcdef',
]


@pytest.mark.parametrize('spelling', GOOD_SPELLINGS)
def test_spellings(spelling):
    assert normalize_mac(spelling) == '000e08abcdef'
    assert mac_colon(spelling) == '00:0e:08:ab:cd:ef'
    assert mac_upper(spelling) == '000E08ABCDEF'
    assert is_mac(spelling)


@pytest.mark.parametrize('bad', BAD_SPELLINGS)
def test_bad_values_are_named(bad):
    assert not is_mac(bad)
    with pytest.raises(MACError, match='MAC address'):
        normalize_mac(bad)


def test_whitespace_is_what_str_strip_removes():
    assert WHITESPACE == ''.join(chr(code) for code in range(sys.maxunicode + 1) if chr(code).isspace())


def test_spellings_are_data_the_regexes_come_from():
    assert [spelling_regex(spelling) for spelling in SPELLINGS][:2] == [
        '[0-9A-Fa-f]{12}', ':'.join(['[0-9A-Fa-f]{2}'] * 6)]
    named = spelling_regex(SPELLINGS[3], 'x')
    assert named == r'(?<x1>[0-9A-Fa-f]{4})\.(?<x2>[0-9A-Fa-f]{4})\.(?<x3>[0-9A-Fa-f]{4})'
