# -*- coding: utf-8 -*-
"""The phone_profiles action's fleet check, and the file name rule as the action applies it."""

from __future__ import annotations

import pytest

from ansible_collections.phoneprov.mpp.plugins.module_utils.phone_entry import PhoneEntryError
from ansible_collections.phoneprov.mpp.plugins.module_utils.phone_profiles_spec import task_argument_spec
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_filename import FilenameError
from ansible_collections.phoneprov.mpp.plugins.plugin_utils.phone_entries import check_phones

FLEET = [{'mac': '00:0e:08:ab:cd:01', 'key': 'k1'}, {'mac': '000E08ABCD02', 'key': 'k2', 'model': 'CP-7841-3PCC'}]


def task_args(**options):
    """The action's arguments with their defaults, as its argument spec gives them."""
    args = dict((name, spec.get('default')) for name, spec in task_argument_spec(path_type='str').items())
    args.update(template='profile.xml.j2', dest='/srv/mpp/profiles')
    args.update(options)
    return args


def names(filename, phones=None):
    return [entry.filename for entry in check_phones(phones or FLEET, task_args(filename=filename), str)]


@pytest.mark.parametrize('pattern, expected', [
    ('$MA.xml', ['000e08abcd01.xml', '000e08abcd02.xml']),
    ('$MAU.cfg', ['000E08ABCD01.cfg', '000E08ABCD02.cfg']),
    ('$MAC.xml', ['00:0e:08:ab:cd:01.xml', '00:0e:08:ab:cd:02.xml']),
    ('{{ mac }}.xml', ['000e08abcd01.xml', '000e08abcd02.xml']),
    ('spa$(MA)_x.xml', ['spa000e08abcd01_x.xml', 'spa000e08abcd02_x.xml']),
    ('cfg-$(MAU).xml', ['cfg-000E08ABCD01.xml', 'cfg-000E08ABCD02.xml']),
])
def test_file_names_follow_the_rule(pattern, expected):
    assert names(pattern) == expected


@pytest.mark.parametrize('pattern, message', [
    ('profile.xml', 'must hold exactly one MAC macro'),  # refused even for a fleet of one phone
    ('$PN.xml', 'must hold exactly one MAC macro ($MA, $MAU or $MAC) and no other macro'),
    ('$MA-$SN.xml', 'and no other macro'),
    ('$MA$MAU.xml', 'exactly one MAC macro'),
    ('cfg/$MA.xml', 'only letters, digits and . _ - ~ are allowed'),
    ('$MA .xml', 'only letters, digits and . _ - ~ are allowed'),
    ('.$MA.xml', 'starts with a dot'),
    ('', 'filename must be a non-empty string'),
])
def test_names_nginx_cannot_serve_are_refused(pattern, message):
    with pytest.raises(FilenameError) as caught:
        names(pattern, FLEET[:1])
    assert message in str(caught.value), str(caught.value)


def test_the_manifest_name_is_not_a_profile():
    with pytest.raises(FilenameError, match='is not a plain file name'):
        check_phones(FLEET, task_args(filename='$MA.json', manifest='$MA.json'), str)
    with pytest.raises(PhoneEntryError) as caught:
        check_phones(FLEET, task_args(manifest='000e08abcd02.xml'), str)
    assert str(caught.value) == "phone #2 (mac 000E08ABCD02): file name 000e08abcd02.xml is the manifest's"


def test_entries_are_resolved_and_checked():
    seen = []

    def resolve(text):
        seen.append(text)
        return text.upper() if text == 'k1' else text

    entries = check_phones(FLEET, task_args(encrypt='aes-256-cbc', weak_keys='warn', templates={'CP-7841-3PCC': 'cp7841.j2'}), resolve)
    assert [(entry.index, entry.mac, entry.template) for entry in entries] == [
        (0, '000e08abcd01', 'profile.xml.j2'), (1, '000e08abcd02', 'cp7841.j2')]
    assert entries[0].phone == {'mac': '00:0e:08:ab:cd:01', 'key': 'K1'} and 'k2' in seen

    def broken(text):
        raise ValueError("'vault_key' is undefined")

    with pytest.raises(PhoneEntryError, match="phone #1: its entry does not resolve: 'vault_key' is undefined"):
        check_phones(FLEET, task_args(), broken)


def test_rfc8188_keys_are_decoded_as_key_encoding_says():
    fleet = [{'mac': '000e08abcd01', 'key': 'not hex'}]
    assert check_phones(fleet, task_args(encrypt='aes-256-cbc', key_encoding='hex', weak_keys='warn'), str)  # a passphrase: any text
    with pytest.raises(PhoneEntryError, match=r'phone #1 \(mac 000e08abcd01\): key: the key is not valid hex'):
        check_phones(fleet, task_args(encrypt='rfc8188', key_encoding='hex'), str)
