# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters giving role provisioning_server its nginx regexes from the rules in module_utils.

Each filter is documented in its own .yml file. Values come back quoted for an nginx
configuration file (``"~<regex>"``): nginx turns ``\\\\`` into ``\\`` and ``\\"`` into ``"`` inside
double quotes, so every backslash of the regex is doubled.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.phoneprov.mpp.plugins.module_utils.mac import MACError, normalize_mac
from ansible_collections.phoneprov.mpp.plugins.module_utils.client_subject import (
    SubjectError, nginx_generic_regex, nginx_identity_mac_map, nginx_identity_source_map)
from ansible_collections.phoneprov.mpp.plugins.module_utils.user_agent import nginx_user_agent_map
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_filename import (
    FilenameError, nginx_own_profile_regexes, nginx_profile_location as profile_location)

MAP_RULES = ('client_mac', 'client_generic', 'client_serial', 'client_model', 'own_profile',
             'ua_model', 'ua_firmware', 'ua_mac', 'ua_serial')


def nginx_quote(regex, prefix='~'):
    """The regex as one double-quoted nginx string, ``"~<regex>"`` (``prefix`` ``~`` marks a map regex)."""
    return '"%s%s"' % (prefix, regex.replace('\\', '\\\\').replace('"', '\\"'))


def nginx_map(rule, identity=None):
    """``[[quoted regex, value], ...]``: the entries of the nginx ``map`` block of one rule.

    ``identity`` (``mpp_server_client_identity``: ``st`` by default, ``cn_sep``, or a dict) is
    the identity rule of module_utils/client_subject.py the client_* maps read the subject by.
    """
    try:
        entries = _entries(rule, identity)
    except SubjectError as exc:
        raise AnsibleFilterError('phoneprov.mpp.nginx_map: %s' % to_native(exc))
    return [[nginx_quote(regex), value] for regex, value in entries]


def _entries(rule, identity):
    if rule == 'client_mac':
        entries = nginx_identity_mac_map(identity, 'mpp_mac')
    elif rule == 'client_generic':
        entries = [(nginx_generic_regex(), 'true')]
    elif rule == 'client_serial':
        entries = [nginx_identity_source_map(identity, 'serial', 'mpp_sn')]
    elif rule == 'client_model':
        entries = [nginx_identity_source_map(identity, 'model', 'mpp_ou')]
    elif rule == 'own_profile':
        entries = [(regex, '1') for regex in nginx_own_profile_regexes()]
    elif rule in ('ua_model', 'ua_firmware', 'ua_mac', 'ua_serial'):
        entries = nginx_user_agent_map(rule[3:], 'mpp_uac_%s' % rule[3:])
    else:
        raise AnsibleFilterError('phoneprov.mpp.nginx_map: unknown rule %r, expected one of %s' % (rule, ', '.join(MAP_RULES)))
    return entries


def nginx_profile_location(pattern, url_path='/'):
    """``{'regex': quoted location regex, 'try_files': path}`` serving file name ``pattern`` below ``url_path``."""
    try:
        location = profile_location(pattern, url_path)
    except FilenameError as exc:
        raise AnsibleFilterError('phoneprov.mpp.nginx_profile_location: %s' % to_native(exc))
    return {'regex': nginx_quote(location['regex'], prefix=''), 'try_files': location['try_files']}


def nginx_mac_keys(values, name='values'):
    """Sorted unique ``$MA`` forms of ``values`` (MACs in any spelling of mac.py, or dicts with ``mac``), for exact map keys.

    nginx compares exact map keys ignoring case, so the certificate's MAC matches in either case.
    ``name`` (the variable) is named in the error for a value that is not a MAC.
    """
    if not isinstance(values, (list, tuple)):
        raise AnsibleFilterError('phoneprov.mpp.nginx_mac_keys: %s must be a list of MAC addresses, got %s' % (name, type(values).__name__))
    keys = set()
    for index, value in enumerate(values):
        mac = value.get('mac') if isinstance(value, dict) else value
        try:
            keys.add(normalize_mac(mac))
        except MACError as exc:
            raise AnsibleFilterError('phoneprov.mpp.nginx_mac_keys: %s[%d]: %s' % (name, index, to_native(exc)))
    return sorted(keys)


class FilterModule(object):
    """nginx configuration from the Cisco MPP rules."""

    def filters(self):
        return {
            'nginx_map': nginx_map,
            'nginx_mac_keys': nginx_mac_keys,
            'nginx_profile_location': nginx_profile_location,
        }
