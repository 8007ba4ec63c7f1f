# -*- coding: utf-8 -*-
"""The one phone-entry rule: a mapping with a MAC, no duplicates, a key and a template each."""

from __future__ import annotations

import pytest

from ansible_collections.phoneprov.mpp.plugins.module_utils import phone_entry
from ansible_collections.phoneprov.mpp.plugins.module_utils.phone_entry import (
    FleetCheck, PhoneEntry, PhoneEntryError, describe_phone, phone_mac)


@pytest.mark.parametrize('entry, kind, message', [
    ('just a string', phone_entry.NOT_A_MAPPING, 'phone #3 is a str, not a mapping with a mac'),
    ({'model': 'CP-8841-3PCC'}, phone_entry.NO_MAC, 'phone #3 has no mac'),
    ({'mac': ''}, phone_entry.NO_MAC, 'phone #3 (mac ) has no mac'),
    ({'mac': None}, phone_entry.NO_MAC, 'phone #3 has no mac'),
    ({'mac': '00:0e:08:zz:cd:01'}, phone_entry.BAD_MAC, 'phone #3 (mac 00:0e:08:zz:cd:01): invalid MAC address'),
    ({'mac': 123456789012}, phone_entry.BAD_MAC,
     'phone #3: MAC address must be a string, got int 123456789012 (YAML read it as a number: quote the MAC)'),
])
def test_unusable_entries(entry, kind, message):
    with pytest.raises(PhoneEntryError) as caught:
        phone_mac(2, entry)
    assert caught.value.kind == kind and caught.value.index == 2
    assert str(caught.value).startswith(message), str(caught.value)


def test_any_mac_spelling_gives_the_ma_form():
    for spelling in ('00:0E:08:AB:CD:EF', '00-0e-08-ab-cd-ef', '000e.08ab.cdef', '000E08ABCDEF'):
        assert phone_mac(0, {'mac': spelling}) == '000e08abcdef'
    assert describe_phone(0, {'mac': '00:0e:08:ab:cd:ef'}) == 'phone #1 (mac 00:0e:08:ab:cd:ef)'


def check(**options):
    options.setdefault('default_template', 'default.j2')
    return FleetCheck(lambda ma: '%s.xml' % ma, **options)


def failure(fleet, entries):
    with pytest.raises(PhoneEntryError) as caught:
        for index, entry in enumerate(entries):
            fleet.check(index, entry)
    return caught.value


def test_a_good_fleet():
    fleet = check(templates={'CP-7841-3PCC': 'cp7841.j2'})
    expected = PhoneEntry(0, '000e08000001', '000e08000001.xml', {'mac': '00:0e:08:00:00:01'}, 'default.j2')
    assert fleet.check(0, {'mac': '00:0e:08:00:00:01'}) == expected
    assert fleet.check(1, {'mac': '000e08000002', 'model': 'CP-7841-3PCC'}).template == 'cp7841.j2'


def test_duplicates_by_mac_and_by_file_name():
    error = failure(check(), [{'mac': '000e08000001'}, {'mac': '00-0e-08-00-00-01'}])
    assert error.kind == phone_entry.DUPLICATE_MAC
    assert str(error) == 'phone #2 (mac 00-0e-08-00-00-01): duplicate MAC 000e08000001, already used by phone #1'
    one_file = FleetCheck(lambda ma: 'all.xml', default_template='t.j2')
    error = failure(one_file, [{'mac': '000e08000001'}, {'mac': '000e08000002'}])
    assert error.kind == phone_entry.DUPLICATE_FILE
    assert str(error) == 'phone #2 (mac 000e08000002): file name all.xml already used by phone #1'


def test_a_key_per_phone_when_encrypting():
    def key_check(key):
        if key == 'bad':
            raise ValueError('the key is not valid hex')

    fleet = check(encrypt='rfc8188', key_field='profile_key', key_check=key_check)
    assert fleet.check(0, {'mac': '000e08000001', 'profile_key': 'good'}).mac == '000e08000001'
    for entry, kind, message in [
        ({'mac': '000e08000002'}, phone_entry.NO_KEY, 'phone #2 (mac 000e08000002) has no profile_key: encrypt=rfc8188 needs a key per phone'),
        ({'mac': '000e08000002', 'profile_key': 7}, phone_entry.BAD_KEY, 'phone #2 (mac 000e08000002): profile_key must be a string'),
        ({'mac': '000e08000002', 'profile_key': 'bad'}, phone_entry.BAD_KEY,
         'phone #2 (mac 000e08000002): profile_key: the key is not valid hex'),
    ]:
        with pytest.raises(PhoneEntryError) as caught:
            fleet.check(1, entry)
        assert (caught.value.kind, str(caught.value)) == (kind, message)
        fleet.seen_mac.pop('000e08000002', None)
        fleet.seen_file.pop('000e08000002.xml', None)
    assert check().check(0, {'mac': '000e08000003'}).mac == '000e08000003'  # no key needed without encryption


def test_no_template_for_the_model():
    fleet = check(templates={'CP-7841-3PCC': 'cp7841.j2'}, default_template=None)
    error = failure(fleet, [{'mac': '000e08000001', 'model': 'CP-8841-3PCC'}])
    assert error.kind == phone_entry.NO_TEMPLATE
    assert str(error) == "phone #1 (mac 000e08000001): no template for model 'CP-8841-3PCC' (templates has CP-7841-3PCC) and no default template"
