# -*- coding: utf-8 -*-
from __future__ import annotations

import re

import pytest

from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_filename import (
    DEFAULT_PATTERN, FilenameError, FilenamePattern, nginx_own_profile_regexes, nginx_profile_location,
    parse_filename, profile_filename, profile_rule_name)

MAC = '00:0E:08:AB:CD:EF'


@pytest.mark.parametrize('pattern, parsed, name, rule', [
    ('$MA.xml', ('', 'MA', '.xml'), '000e08abcdef.xml', '$MA.xml'),
    ('$MAU.cfg', ('', 'MAU', '.cfg'), '000E08ABCDEF.cfg', '$MAU.cfg'),
    ('$MAC.xml', ('', 'MAC', '.xml'), '00:0e:08:ab:cd:ef.xml', '$MAC.xml'),
    ('cfg-$MA.xml', ('cfg-', 'MA', '.xml'), 'cfg-000e08abcdef.xml', 'cfg-$MA.xml'),
    ('$(MA)_spa.xml', ('', 'MA', '_spa.xml'), '000e08abcdef_spa.xml', '$(MA)_spa.xml'),
    ('$(mau)x', ('', 'MAU', 'x'), '000E08ABCDEFx', '$(MAU)x'),
    ('{{ mac }}.xml', ('', 'MA', '.xml'), '000e08abcdef.xml', '$MA.xml'),
    ('SEP$MAU~1.cnf.xml', ('SEP', 'MAU', '~1.cnf.xml'), 'SEP000E08ABCDEF~1.cnf.xml', 'SEP$MAU~1.cnf.xml'),
])
def test_good_patterns(pattern, parsed, name, rule):
    assert parse_filename(pattern) == FilenamePattern(*parsed)
    assert profile_filename(pattern, MAC) == name
    assert profile_rule_name(pattern) == rule
    assert DEFAULT_PATTERN == '$MA.xml'


@pytest.mark.parametrize('pattern, words', [
    ('', 'non-empty'),
    (None, 'non-empty'),
    ('profile.xml', 'exactly one MAC macro'),
    ('$MA-$MA.xml', 'exactly one MAC macro'),
    ('$MA-$SN.xml', 'exactly one MAC macro'),
    ('$MA/x.xml', 'only letters, digits'),
    ('$MA x.xml', 'only letters, digits'),
    ('$MA%20.xml', 'only letters, digits'),
    ('.$MA.xml', 'starts with a dot'),
])
def test_bad_patterns_are_named(pattern, words):
    with pytest.raises(FilenameError, match=words):
        parse_filename(pattern)
    with pytest.raises(FilenameError):
        nginx_profile_location(pattern, '/cfg/')


def test_bad_mac_is_a_filename_error():
    with pytest.raises(FilenameError, match='MAC address'):
        profile_filename('$MA.xml', '00:0e')


def _python(regex):
    return re.compile(regex.replace('(?<', '(?P<'))


@pytest.mark.parametrize('pattern', ['$MA.xml', '$MAU.cfg', '$MAC.xml', 'cfg-$MA.xml', '$(MA)_spa.xml'])
def test_nginx_location_serves_exactly_the_names_of_the_pattern(pattern):
    location = nginx_profile_location(pattern, '/cfg/')
    regex = _python(location['regex'])
    assert location['try_files'] == '/$mpp_req_file'
    for mac in ('000e08abcdef', '00562b043615'):
        name = profile_filename(pattern, mac)
        match = regex.match('/cfg/' + name)
        assert match and match.group('mpp_req_file') == name
        # The MAC nginx compares: the owner of the file is its own profile, nobody else.
        own = ['%s:%s' % (mac.upper(), match.group('mpp_req_mac')), '%s:%s' % (mac, match.group('mpp_req_mac'))]
        other = '%s:%s' % ('00562b999999', match.group('mpp_req_mac'))
        regexes = [_python(own_regex) for own_regex in nginx_own_profile_regexes()]
        assert all(any(own_regex.match(key) for own_regex in regexes) for key in own)
        assert not any(own_regex.match(other) for own_regex in regexes)
    for odd in ('/cfg/x' + profile_filename(pattern, MAC), '/cfg/' + profile_filename(pattern, MAC) + '.bak',
                '/other/' + profile_filename(pattern, MAC), '/cfg/sub/' + profile_filename(pattern, MAC),
                '/cfg/' + profile_filename(pattern, MAC).replace('0', 'g', 1)):
        assert not regex.match(odd), odd


def test_the_other_case_reaches_the_location_and_is_not_a_file():
    # The owner asking $MAU under $MA.xml passes the MAC check; try_files finds no such file (404).
    match = _python(nginx_profile_location('$MA.xml', '/cfg/')['regex']).match('/cfg/000E08ABCDEF.xml')
    assert match.group('mpp_req_file') == '000E08ABCDEF.xml' != profile_filename('$MA.xml', MAC)
