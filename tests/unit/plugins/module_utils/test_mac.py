# -*- coding: utf-8 -*-
from __future__ import annotations

import pytest

from ansible_collections.phoneprov.mpp.plugins.module_utils.mac import (
    MACError, is_mac, mac_colon, mac_upper, normalize_mac)


@pytest.mark.parametrize('spelling', [
    '00:0E:08:AB:CD:EF', '00-0e-08-ab-cd-ef', '000e.08ab.cdef', '000E08ABCDEF', '000e08abcdef',
    ' 00:0e:08:ab:cd:ef ',
])
def test_spellings(spelling):
    assert normalize_mac(spelling) == '000e08abcdef'
    assert mac_colon(spelling) == '00:0e:08:ab:cd:ef'
    assert mac_upper(spelling) == '000E08ABCDEF'
    assert is_mac(spelling)


@pytest.mark.parametrize('bad', [
    '', '000e08abcde', '000e08abcdef0', '00:0e:08:ab:cd', '00:0e-08:ab:cd:ef', 'g00e08abcdef',
    '000e:08ab:cdef', '0:e:8:ab:cd:ef', '00 0e 08 ab cd ef', None, 0x000e08abcdef,
])
def test_bad_values_are_named(bad):
    assert not is_mac(bad)
    with pytest.raises(MACError, match='MAC address'):
        normalize_mac(bad)
