# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Vars plugin phoneprov.mpp.fleet: mpp_phones from fleet/ files, read as plain data."""

from __future__ import annotations

DOCUMENTATION = r"""
name: fleet
short_description: Load the phone fleet (C(mpp_phones)) from C(fleet/) files as plain data
version_added: 0.1.0
description:
  - Reads the phones of a group from C(fleet/<group>.yml) or from every file in C(fleet/<group>/)
    next to the inventory or the playbook, the way C(group_vars/) is laid out, and sets
    C(mpp_phones) (see O(variable)) for that group. A file of a host, C(fleet/<host>.yml), sets it
    for that host. As with C(group_vars/), the more specific group (or the host) wins; lists are
    not merged.
  - Each file is a YAML or JSON list of phone entries, or a mapping with the variable's name as
    its one key (so a C(group_vars/) file can be moved here unchanged). Files of one directory are
    read in name order and their lists joined.
  - Why it exists. Ansible tags every value it loads from C(group_vars/) or C(vars_files) with its
    origin, and reloads C(vars_files) before every task; for a fleet of 10,000 phones that is
    seconds per load, for 100,000 phones tens of seconds. This plugin parses with libyaml or the
    JSON parser into plain Python data, once per file and process (until the file changes).
  - A string value that contains a template (C({{ vault_sip_1001 }}), say) is a template, as it is
    in C(group_vars/); every other value is plain data that nothing needs to template.
  - Every entry is checked when the file is read. A file that does not parse, a list item that is
    not a mapping, or an entry with a missing or malformed C(mac) fails the run naming the file
    and the entry. Duplicate MACs are caught by the modules that use the fleet.
  - A whole file may be vault-encrypted (C(ansible-vault encrypt fleet/all/keys.yml)), for example
    the one that holds the phones' profile keys; it is decrypted with the run's vault secrets.
    Single vaulted values (C(!vault)) are not supported in fleet files.
  - Hidden files, backups (C(~)) and other extensions are ignored.
  - Like every vars plugin in a collection it must be enabled, for example in C(ansible.cfg) with
    C(vars_plugins_enabled = host_group_vars,phoneprov.mpp.fleet).
options:
  directory:
    description: Name of the directory, next to the inventory or the playbook, that holds the fleet files.
    type: str
    default: fleet
    ini:
      - section: phoneprov_mpp_fleet
        key: directory
    env:
      - name: PHONEPROV_MPP_FLEET_DIRECTORY
  variable:
    description: The variable the fleet is set in.
    type: str
    default: mpp_phones
    ini:
      - section: phoneprov_mpp_fleet
        key: variable
    env:
      - name: PHONEPROV_MPP_FLEET_VARIABLE
  stage:
    ini:
      - section: phoneprov_mpp_fleet
        key: stage
    env:
      - name: PHONEPROV_MPP_FLEET_STAGE
extends_documentation_fragment:
  - ansible.builtin.vars_plugin_staging
seealso:
  - module: phoneprov.mpp.phone_profiles
  - module: phoneprov.mpp.phone_check
notes:
  - PyYAML with libyaml (C(yaml.CSafeLoader)) is used when available; without it YAML files are
    parsed by the pure-Python loader, which is several times slower.
"""

EXAMPLES = r"""
# ansible.cfg
# [defaults]
# vars_plugins_enabled = host_group_vars,phoneprov.mpp.fleet
#
# Layout (in Git, next to the inventory):
#   inventory/hosts.yml
#   inventory/group_vars/provisioning_servers.yml
#   inventory/fleet/all/site-berlin.yml      # - mac: 00:0e:08:ab:cd:01
#   inventory/fleet/all/site-hamburg.json    #   model: CP-8841-3PCC ...
#
# Every host then has mpp_phones: the phones of both files, in file-name order.
# A group with its own fleet (inventory/fleet/edge_servers.yml) replaces it for its hosts.
"""

import json
import os

import yaml

from ansible.errors import AnsibleError, AnsibleParserError
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.plugins.vars import BaseVarsPlugin

try:
    from yaml import CSafeLoader as _YamlLoader
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeLoader as _YamlLoader

from ansible_collections.phoneprov.mpp.plugins.module_utils.phone_entry import PhoneEntryError, phone_mac
from ansible_collections.phoneprov.mpp.plugins.plugin_utils.direct_render import possibly_template
from ansible_collections.phoneprov.mpp.plugins.plugin_utils.core_compat import read_text_file, trust_as_template

EXTENSIONS = ('.yml', '.yaml', '.json')
VAULT_HEADER = b'$ANSIBLE_VAULT'

# path -> ((mtime_ns, size, inode), entries); one parse per file and process.
_PARSED = {}


def load_fleet_file(path, variable='mpp_phones', decrypt=None):
    """The list of phone entries in one fleet file, checked; AnsibleParserError naming the problem.

    ``decrypt(path)`` returns the text of a vault-encrypted file (Ansible's loader does that).
    """
    with open(path, 'rb') as handle:
        raw = handle.read()
    if raw.lstrip().startswith(VAULT_HEADER):
        if decrypt is None:
            raise AnsibleParserError('%s: vault-encrypted, and no vault secrets to decrypt it with' % path)
        raw = to_text(decrypt(path), errors='surrogate_or_strict').encode('utf-8')
    if b'!vault' in raw:
        raise AnsibleParserError('%s: single vaulted values (!vault) are not supported in fleet files; '
                                 'encrypt the whole file with ansible-vault instead' % path)
    try:
        if path.endswith('.json'):
            data = json.loads(raw)
        else:
            data = yaml.load(raw, Loader=_YamlLoader)  # nosec B506 - a safe loader
    except (ValueError, yaml.YAMLError) as exc:
        raise AnsibleParserError('%s: not valid %s: %s' % (path, 'JSON' if path.endswith('.json') else 'YAML', to_native(exc)))
    if data is None:
        return []
    if isinstance(data, dict):
        if list(data) != [variable]:
            raise AnsibleParserError('%s: a fleet file is a list of phones or a mapping with the one key %s, found keys %s'
                                     % (path, variable, ', '.join(sorted(to_text(key) for key in data)) or 'none'))
        data = data[variable]
        if data is None:
            return []
    if not isinstance(data, list):
        raise AnsibleParserError('%s: a fleet file is a list of phones, found a %s' % (path, type(data).__name__))
    for index, entry in enumerate(data):
        try:
            phone_mac(index, entry)
        except PhoneEntryError as exc:
            raise AnsibleParserError('%s: %s' % (path, exc))
    return _trust_templates(data)


def _trust_templates(value):
    """Mark strings that contain a template as trusted templates, in place, as Ansible does for
    group_vars; the rest stays plain (and cheap: nothing needs to template it)."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            value[index] = _trust_templates(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            value[key] = _trust_templates(item)
    elif isinstance(value, str) and possibly_template(value):
        return trust_as_template(value)
    return value


def _fleet_files(base):
    """Fleet files for one entity: ``base.yml`` (or .yaml/.json) and every file in ``base/``."""
    found = [base + ext for ext in EXTENSIONS if os.path.isfile(base + ext)]
    if os.path.isdir(base):
        for name in sorted(os.listdir(base)):
            if name.startswith('.') or name.endswith('~') or not name.endswith(EXTENSIONS):
                continue
            path = os.path.join(base, name)
            if os.path.isfile(path):
                found.append(path)
    return found


def cached_fleet_file(path, variable, decrypt=None):
    """``load_fleet_file`` once per file and process, again when the file changes."""
    stat = os.stat(path)
    stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino, variable)
    cached = _PARSED.get(path)
    if cached is None or cached[0] != stamp:
        cached = _PARSED[path] = (stamp, load_fleet_file(path, variable, decrypt))
    return cached[1]


def _decrypter(loader):
    """Text of a vault-encrypted file, through Ansible's loader (and so the run's vault secrets)."""
    def decrypt(path):
        try:
            return str.__str__(read_text_file(loader, path))
        except AnsibleError as exc:
            raise AnsibleParserError('%s: cannot decrypt: %s' % (path, to_native(exc)))
    return decrypt


class VarsModule(BaseVarsPlugin):
    """Sets the fleet variable for groups and hosts that have fleet files."""

    def get_vars(self, loader, path, entities, cache=True):
        if not isinstance(entities, list):
            entities = [entities]
        super(VarsModule, self).get_vars(loader, path, entities)
        directory = os.path.join(os.path.realpath(to_native(path)), self.get_option('directory'))
        if not os.path.isdir(directory):
            return {}
        variable = self.get_option('variable')
        data = {}
        for entity in entities:
            name = to_native(entity.name)
            if not name or os.sep in name or name.startswith('.'):
                continue
            files = _fleet_files(os.path.join(directory, name))
            if not files:
                continue
            phones = []
            for fleet_file in files:
                phones.extend(cached_fleet_file(fleet_file, variable, _decrypter(loader)))
            # Later entities (more specific groups, then the host) replace earlier ones, as
            # group_vars do for a list.
            data[variable] = phones
        return data
