# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lookup plugin phoneprov.mpp.fleet: the fleet however it is handed over, read by
plugin_utils/fleet_source.py as phone_profiles' phones_from reads it."""

from __future__ import annotations

DOCUMENTATION = r"""
name: fleet
short_description: The phone fleet, from fleet files or however the inventory hands it over
version_added: 0.2.0
description:
  - With terms, the phone entries of those fleet files or directories of fleet files, read on the
    controller exactly as O(phoneprov.mpp.phone_profiles#module:phones_from) reads them (YAML, JSON
    or CSV, vault-encrypted files decrypted, parsed once per process).
  - Without terms, the fleet however it is handed over to the push - C(mpp_phones_from) when it is
    defined (read as above), else C(mpp_phones), else an empty list. Playbooks that need the fleet
    (a verification sample, a report, a count) use this and work with either way.
  - A relative path is looked up in the host's C(inventory_dir) first, then in the playbook's
    directory.
  - With O(host), the fleet as that inventory host has it (its C(mpp_phones_from), relative to its
    C(inventory_dir), else its C(mpp_phones)), for a play on the controller that reads a server's fleet.
  - A string of an entry that contains a template (C({{ vault_sip_1001 }})) is templated, as it is
    in C(group_vars/); the entries come back resolved (and are not templated again).
  - Returns the list of phone entries. Call it with C(query) (or C(lookup) with C(wantlist=true));
    a plain C(lookup) would give a one-phone fleet as that phone's entry.
options:
  _terms:
    description: Fleet files or directories of them; none for the fleet as the inventory hands it over.
    type: list
    elements: path
    required: false
  host:
    description:
      - Take C(mpp_phones_from), C(mpp_phones) and C(inventory_dir) from this inventory host's variables
        instead of those of the host the task runs for (templates in fleet files are still resolved
        with the task's variables).
    type: str
seealso:
  - module: phoneprov.mpp.phone_profiles
  - plugin: phoneprov.mpp.fleet
    plugin_type: vars
"""

EXAMPLES = r"""
- name: Count the fleet, whether mpp_phones_from or mpp_phones holds it
  ansible.builtin.debug:
    msg: "{{ query('phoneprov.mpp.fleet') | length }} phones"

- name: The fleet of the first provisioning server, in a play on localhost
  ansible.builtin.debug:
    msg: "{{ query('phoneprov.mpp.fleet', host=groups['provisioning_servers'][0]) | length }}"

- name: The phones of one site's files
  ansible.builtin.debug:
    msg: "{{ query('phoneprov.mpp.fleet', 'fleet/berlin', 'fleet/extra.csv') | map(attribute='mac') | list }}"
"""

RETURN = r"""
_list:
  description: The phone entries, in file (and, in a directory, file-name) order.
  type: list
  elements: dict
"""

from ansible.errors import AnsibleLookupError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.lookup import LookupBase

from ansible_collections.phoneprov.mpp.plugins.plugin_utils.core_compat import resolve_fleet_string, resolve_variable
from ansible_collections.phoneprov.mpp.plugins.plugin_utils.direct_render import plain_data
from ansible_collections.phoneprov.mpp.plugins.plugin_utils.fleet_source import read_fleet, resolve_file_string, resolve_paths

FROM_VARIABLE = 'mpp_phones_from'
PHONES_VARIABLE = 'mpp_phones'


def _paths(terms):
    """The terms as a flat list of path strings (a term may be a list, as a variable holds it)."""
    paths = []
    for term in terms:
        if isinstance(term, (list, tuple)):
            paths.extend(_paths(term))
        elif isinstance(term, str):
            paths.append(to_native(term))
        else:
            raise AnsibleLookupError('a fleet source is a path, got %s' % type(term).__name__)
    return paths


class LookupModule(LookupBase):
    """The phone entries of fleet files, or of the fleet variables."""

    def run(self, terms, variables=None, **kwargs):
        variables = variables or {}
        self.set_options(var_options=variables, direct=kwargs)
        host = self.get_option('host')
        if host:
            try:
                variables = variables['hostvars'][host]
            except KeyError:
                raise AnsibleLookupError('phoneprov.mpp.fleet: no inventory host %s' % host)

            def variable(name):
                return variables[name]
        else:
            def variable(name):
                return resolve_variable(self._templar, name)
        paths = _paths(terms)
        if not paths and FROM_VARIABLE in variables:
            paths = _paths([variable(FROM_VARIABLE)])
        if paths:
            return self._read(paths, variables)
        if PHONES_VARIABLE in variables:
            return plain_data(variable(PHONES_VARIABLE), lambda text: plain_data(resolve_fleet_string(self._templar, text), str))
        return []

    def _read(self, paths, variables):
        try:
            resolved = resolve_paths(paths, (variables.get('inventory_dir'), variables.get('playbook_dir')))
            phones = read_fleet(resolved, self._loader)
        except Exception as exc:  # pylint: disable=broad-except
            raise AnsibleLookupError('phoneprov.mpp.fleet: %s' % to_native(exc))
        return plain_data(phones, lambda text: plain_data(resolve_file_string(self._templar, text), str))
