# -*- coding: utf-8 -*-
"""The phone_profiles action refuses (or, with weak_keys=warn, warns about) weak profile keys."""

from __future__ import annotations

import pytest

from ansible_collections.phoneprov.mpp.plugins.module_utils.phone_entry import PhoneEntryError
from ansible_collections.phoneprov.mpp.plugins.module_utils.phone_profiles_spec import task_argument_spec
from ansible_collections.phoneprov.mpp.plugins.plugin_utils.phone_entries import check_phones

STRONG = '00112233445566778899aabbccddeeff'
WEAK = 'profile-key-2'
FLEET = [{'mac': '000e08abcd01', 'key': STRONG}, {'mac': '00:0e:08:ab:cd:02', 'key': WEAK}, {'mac': '000e08abcd03', 'key': 'Ab1-' * 5}]


def task_args(**options):
    args = dict((name, spec.get('default')) for name, spec in task_argument_spec(path_type='str').items())
    args.update(template='profile.xml.j2', dest='/srv/mpp/profiles')
    args.update(options)
    return args


@pytest.mark.parametrize('encrypt', ['aes-256-cbc', 'rfc8188'])
def test_a_weak_key_is_refused_naming_the_phone_never_the_key(encrypt):
    assert task_argument_spec()['weak_keys']['default'] == 'refuse'
    with pytest.raises(PhoneEntryError) as caught:
        check_phones(FLEET, task_args(encrypt=encrypt), str, warn=pytest.fail)
    message = str(caught.value)
    assert message.startswith('phone #2 (mac 00:0e:08:ab:cd:02): key: the key is too weak for %s: 13 characters' % encrypt)
    assert 'weak_keys=warn' in message and 'mpp_profiles_weak_keys' in message
    assert WEAK not in message and caught.value.kind == 'bad_key'


def test_decoded_keys_count_their_octets():
    fleet = [{'mac': '000e08abcd01', 'key': STRONG[:30]}]  # 15 octets
    with pytest.raises(PhoneEntryError, match=r'phone #1 \(mac 000e08abcd01\): key: the key is too weak for rfc8188: 15 octets'):
        check_phones(fleet, task_args(encrypt='rfc8188', key_encoding='hex'), str)
    assert check_phones([{'mac': '000e08abcd01', 'key': STRONG}], task_args(encrypt='rfc8188', key_encoding='hex'), str)


def test_weak_keys_warn_publishes_with_one_warning_naming_the_phones():
    warnings = []
    fleet = FLEET + [{'mac': '000e08abcd%02d' % i, 'key': 'k%d' % i} for i in range(10, 25)]
    entries = check_phones(fleet, task_args(encrypt='aes-256-cbc', weak_keys='warn'), str, warn=warnings.append)
    assert len(entries) == len(fleet) and len(warnings) == 1
    assert warnings[0].startswith('16 phones have a profile key under 128 bits (weak_keys=warn): 000e08abcd02, 000e08abcd10, ')
    assert warnings[0].endswith('000e08abcd18 and 6 more')
    assert all(phone['key'] not in warnings[0] for phone in fleet)


def test_no_key_check_without_encryption():
    assert len(check_phones(FLEET, task_args(), str, warn=pytest.fail)) == 3
