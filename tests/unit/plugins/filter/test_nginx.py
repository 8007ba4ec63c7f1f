# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nginx filters of role provisioning_server: MAC keys of its exact maps, the quoted subject maps."""

from __future__ import annotations

import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.phoneprov.mpp.plugins.filter.nginx import nginx_mac_keys, nginx_map


def test_mac_keys_normalise_every_spelling_once_sorted():
    values = ['00:0E:08:AB:CD:EF', '000e.08ab.cdef', {'mac': '00-56-2b-04-36-15', 'model': 'CP-7841-3PCC'}, ' 000E08ABCDEF ']
    assert nginx_mac_keys(values, 'mpp_server_denied_macs') == ['000e08abcdef', '00562b043615']
    assert nginx_mac_keys([]) == []


@pytest.mark.parametrize('values, message', [
    (['000e08abcdef', '00:0e:08:ab:cd'], r'mpp_server_denied_macs\[1\]: invalid MAC address'),
    ([{'model': 'CP-8841-3PCC'}], r'mpp_server_denied_macs\[0\]: MAC address must be a string'),
    ('000e08abcdef', 'must be a list'),
])
def test_mac_keys_name_the_variable_and_the_bad_value(values, message):
    with pytest.raises(AnsibleFilterError, match=message):
        nginx_mac_keys(values, 'mpp_server_denied_macs')


def _unquoted(quoted):
    # "~<regex>" with every backslash doubled and quotes escaped (nginx_quote), as nginx reads it.
    text = quoted[2:-1].replace('\\"', '"').replace('\\\\', '\\')
    return re.compile(text.replace('(?<', '(?P<').replace('(?P<!', '(?<!').replace('(?P<=', '(?<='))


def _mac(dn, identity=None):
    for regex, value in nginx_map('client_mac', identity):
        match = _unquoted(regex).search(dn)
        if match:
            return re.sub(r'\$(\w+)', lambda name: match.group(name.group(1)), value)
    return ''


@pytest.mark.parametrize('dn, identity, mac', [
    ('ST=000e08abcdef,OU=CP-8841-3PCC', None, '000e08abcdef'),
    ('ST=000e08abcdef,ST=00562b043615,OU=CP-8841-3PCC', None, ''),
    ('ST=00:56:2b:04:36:15,L=FCH1,ST=000e08abcdef', 'st', ''),
    ('CN=SEP000E08ABCDEF,OU=CTG', 'cn_sep', '000E08ABCDEF'),
    ('CN=SEP000E08ABCDEF,CN=SEP00562B043615', 'cn_sep', ''),
])
def test_client_mac_map_refuses_two_identity_attributes(dn, identity, mac):
    assert _mac(dn, identity) == mac
