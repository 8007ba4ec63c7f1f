# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Vars plugin phoneprov.mpp.fleet: mpp_phones from fleet/ files, read as plain data by
plugin_utils/fleet_source.py (the one reader of fleet files); this plugin owns only the layout."""

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
    its one key (so a C(group_vars/) file can be moved here unchanged), or a CSV file (C(.csv)) with a
    header row and one phone a row; a column name with dots nests (C(lines.0.user_id) is
    C(phone.lines[0].user_id), numeric parts are list indexes from 0), empty cells are left out and
    every value is a string. Files of one directory are read in name order and their lists joined.
  - The files are read by the collection's fleet reader, the same one as the O(phoneprov.mpp.phone_profiles#module:phones_from)
    option and the P(phoneprov.mpp.fleet#lookup) lookup read them with.
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
  - plugin: phoneprov.mpp.fleet
    plugin_type: lookup
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

import os

from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.vars import BaseVarsPlugin

from ansible_collections.phoneprov.mpp.plugins.plugin_utils.fleet_source import EXTENSIONS, cached_fleet_file, directory_files, loader_decrypter


def _fleet_files(base):
    """Fleet files for one entity: ``base.yml`` (or another fleet extension) and every file in ``base/``."""
    found = [base + ext for ext in EXTENSIONS if os.path.isfile(base + ext)]
    if os.path.isdir(base):
        found.extend(directory_files(base))
    return found


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
        decrypt = loader_decrypter(loader)
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
                phones.extend(cached_fleet_file(fleet_file, variable, decrypt))
            # Later entities (more specific groups, then the host) replace earlier ones, as
            # group_vars do for a list.
            data[variable] = phones
        return data
