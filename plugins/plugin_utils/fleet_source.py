# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet files read on the controller as plain data: the one reader of the fleet vars plugin,
the phone_profiles action's ``phones_from`` and the ``fleet`` lookup.

Why: Ansible tags every value it loads from group_vars or vars_files with its origin and
reloads vars_files before every task; for 100,000 phones that is tens of seconds. Here a file
is parsed once per process (until it changes) by libyaml, the JSON parser or the CSV reader
into plain Python data. A string that may hold a template is marked a trusted template, as
group_vars marks it, so a fleet file gives the same values as the same data in group_vars.

A file is a YAML or JSON list of phone entries, or a mapping with the fleet variable's name as
its one key (a group_vars file moved over unchanged), or a CSV file: a header row, one phone a
row; a column name with dots nests (``lines.0.user_id``: numeric parts are list indexes), empty
cells are left out, every value is a string. A whole file may be vault-encrypted.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import gc
import io
import json
import os

import yaml

from ansible.errors import AnsibleError, AnsibleParserError
from ansible.module_utils.common.text.converters import to_native, to_text

from ansible_collections.phoneprov.mpp.plugins.module_utils.phone_entry import PhoneEntryError, phone_mac
from ansible_collections.phoneprov.mpp.plugins.plugin_utils.core_compat import read_text_file, trust_as_template
from ansible_collections.phoneprov.mpp.plugins.plugin_utils.direct_render import possibly_template
from ansible_collections.phoneprov.mpp.plugins.plugin_utils.plain_yaml import load_plain_yaml

EXTENSIONS = ('.yml', '.yaml', '.json', '.csv')
VAULT_HEADER = b'$ANSIBLE_VAULT'
DEFAULT_VARIABLE = 'mpp_phones'
# What a file must contain somewhere for one of its strings to be a template (direct_render.possibly_template).
TEMPLATE_MARKERS = (b'{{', b'{%', b'{#', b'#jinja2:')

# path -> ((mtime_ns, size, inode, variable), entries, plain); one parse per file and process.
_PARSED = {}
FleetData = collections.namedtuple('FleetData', 'phones plain')


@contextlib.contextmanager
def _collector_paused():
    """Python's cycle collector off while a parser builds millions of objects, none of them in a
    cycle: it would otherwise run over all of them again and again (3 to 4 times the parse)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load_fleet_file(path, variable=DEFAULT_VARIABLE, decrypt=None):
    """The list of phone entries in one fleet file, checked; AnsibleParserError naming the problem.

    ``decrypt(path)`` returns the text of a vault-encrypted file (Ansible's loader does that).
    """
    return _load_fleet_file(path, variable, decrypt)[0]


def _load_fleet_file(path, variable, decrypt):
    """(entries, plain): ``plain`` when no string of the file can be a template (nothing to resolve)."""
    with _collector_paused():
        return _parse_fleet_file(path, variable, decrypt)


def _parse_fleet_file(path, variable, decrypt):
    with open(path, 'rb') as handle:
        raw = handle.read()
    if raw.lstrip().startswith(VAULT_HEADER):
        if decrypt is None:
            raise AnsibleParserError('%s: vault-encrypted, and no vault secrets to decrypt it with' % path)
        raw = to_text(decrypt(path), errors='surrogate_or_strict').encode('utf-8')
    if path.endswith('.csv'):
        data = _csv_entries(path, raw)
    else:
        data = _structured_entries(path, raw, variable)
    for index, entry in enumerate(data):
        try:
            phone_mac(index, entry)
        except PhoneEntryError as exc:
            raise AnsibleParserError('%s: %s' % (path, exc))
    if b'\\' not in raw and not any(start in raw for start in TEMPLATE_MARKERS):
        return data, True  # no string can hold a template: none written, none escaped
    return _trust_templates(data), False


def _structured_entries(path, raw, variable):
    """The entries of a YAML or JSON file: a list, or a mapping of ``variable`` to a list."""
    is_json = path.endswith('.json')
    if not is_json and b'!vault' in raw:
        raise AnsibleParserError('%s: single vaulted values (!vault) are not supported in fleet files; '
                                 'encrypt the whole file with ansible-vault instead' % path)
    try:
        if is_json:
            data = json.loads(raw)
        else:
            data = load_plain_yaml(raw)
    except (ValueError, yaml.YAMLError) as exc:
        raise AnsibleParserError('%s: not valid %s: %s' % (path, 'JSON' if is_json else 'YAML', to_native(exc)))
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
    return data


def _csv_entries(path, raw):
    """The entries of a CSV file: one a row, nested by the dotted column names of the header."""
    try:
        rows = list(csv.reader(io.StringIO(raw.decode('utf-8-sig'), newline='')))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise AnsibleParserError('%s: not valid CSV: %s' % (path, to_native(exc)))
    if not rows:
        return []
    columns = [_column_path(path, number, name, rows[0]) for number, name in enumerate(rows[0], 1)]
    entries = []
    for line, row in enumerate(rows[1:], 2):
        if len(row) > len(columns):
            raise AnsibleParserError('%s: line %d has %d cells, the header names %d columns' % (path, line, len(row), len(columns)))
        if not any(row):
            continue  # a blank line
        entry = {}
        for parts, value in zip(columns, row):
            if value != '':
                _set_nested(path, line, entry, parts, value)
        entries.append(_as_lists(path, line, entry, ''))
    return entries


def _column_path(path, number, name, header):
    parts = name.split('.')
    if not all(parts):
        raise AnsibleParserError('%s: column %d of the header, %r, is not a name or a dotted path of names' % (path, number, name))
    if header.count(name) > 1:
        raise AnsibleParserError('%s: column %s appears twice in the header' % (path, name))
    return parts


def _set_nested(path, line, entry, parts, value):
    target = entry
    for depth, part in enumerate(parts[:-1]):
        target = target.setdefault(part, {})
        if not isinstance(target, dict):
            raise AnsibleParserError('%s: line %d: column %s needs %s to be a mapping or list, it has a value'
                                     % (path, line, '.'.join(parts), '.'.join(parts[:depth + 1])))
    if isinstance(target.get(parts[-1]), dict):
        raise AnsibleParserError('%s: line %d: column %s has a value and nested columns' % (path, line, '.'.join(parts)))
    target[parts[-1]] = value


def _as_lists(path, line, value, where):
    """Mappings whose keys are all numbers become lists (``lines.0``, ``lines.1``), at any depth."""
    if not isinstance(value, dict):
        return value
    items = dict((key, _as_lists(path, line, item, where + key + '.')) for key, item in value.items())
    numeric = [key.isdigit() for key in items]
    if not any(numeric) or not where:
        return items
    if not all(numeric):
        raise AnsibleParserError('%s: line %d: columns under %s mix list indexes and names' % (path, line, where[:-1]))
    indexes = sorted(int(key) for key in items)
    if indexes != list(range(len(indexes))):
        missing = min(set(range(indexes[-1] + 1)) - set(indexes))
        raise AnsibleParserError('%s: line %d: %s%d is empty but a later index is set (list indexes count from 0 without gaps)'
                                 % (path, line, where, missing))
    return [items[str(index)] for index in indexes]


def _trust_templates(value):
    """Mark strings that contain a template as trusted templates, in place, as Ansible does for
    group_vars; the rest stays plain (and cheap: nothing needs to template it)."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            value[index] = _trust_templates(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            value[key] = _trust_templates(item)
    elif isinstance(value, str) and ('{' in value or '#' in value) and possibly_template(value):
        return trust_as_template(value)
    return value


def is_fleet_file(name):
    """True for a name a fleet directory's listing reads: a fleet extension, not hidden, not a backup."""
    return not name.startswith('.') and not name.endswith('~') and name.endswith(EXTENSIONS)


def directory_files(directory):
    """The fleet files of ``directory``, in name order (subdirectories are not read)."""
    found = []
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if is_fleet_file(name) and os.path.isfile(path):
            found.append(path)
    return found


def cached_fleet_file(path, variable=DEFAULT_VARIABLE, decrypt=None):
    """``load_fleet_file`` once per file and process, again when the file changes. The entries
    are shared between callers: never change them."""
    return _cached(path, variable, decrypt)[1]


def _cached(path, variable, decrypt):
    """(stamp, entries, plain) of one file, parsed once per process until it changes."""
    stat = os.stat(path)
    stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino, variable)
    cached = _PARSED.get(path)
    if cached is None or cached[0] != stamp:
        cached = _PARSED[path] = (stamp,) + _load_fleet_file(path, variable, decrypt)
    return cached


def loader_decrypter(loader):
    """Text of a vault-encrypted file, through Ansible's loader (and so the run's vault secrets)."""
    def decrypt(path):
        try:
            return str.__str__(read_text_file(loader, path))
        except AnsibleError as exc:
            raise AnsibleParserError('%s: cannot decrypt: %s' % (path, to_native(exc)))
    return decrypt


def resolve_paths(paths, bases):
    """Each of ``paths`` as an existing absolute path: a relative one under the first of ``bases``
    (directories, None skipped) where it exists; AnsibleError naming a path found nowhere."""
    resolved = []
    bases = [base for index, base in enumerate(bases) if base and base not in bases[:index]]
    for path in paths:
        path = os.path.expanduser(to_native(path))
        if os.path.isabs(path):
            candidates = [path]
        else:
            candidates = [os.path.join(base, path) for base in bases]
        found = [candidate for candidate in candidates if os.path.exists(candidate)]
        if not found:
            raise AnsibleError('fleet source %s: no such file or directory (looked for %s)'
                               % (path, ', '.join(candidates) or 'it with no directory to resolve it against'))
        resolved.append(os.path.realpath(found[0]))
    return resolved


def read_fleet(paths, loader=None, variable=DEFAULT_VARIABLE):
    """The phone entries of ``paths`` (absolute; each a fleet file or a directory of them), in
    order, as one new list; the entries themselves are shared with the cache."""
    return read_fleet_data(paths, loader, variable).phones


def read_fleet_data(paths, loader=None, variable=DEFAULT_VARIABLE):
    """``FleetData(phones, plain)`` of ``paths`` (see :func:`read_fleet`); ``plain`` when no string
    of any of the files can be a template: the entries are then plain builtin data as they are, with
    nothing to resolve (a reader must still never change them: they are the cache's)."""
    decrypt = loader_decrypter(loader) if loader is not None else None
    phones, plain = [], True
    for path in paths:
        if os.path.isdir(path):
            files = directory_files(path)
        elif path.endswith(EXTENSIONS):
            files = [path]
        else:
            raise AnsibleParserError('%s: a fleet file ends in %s' % (path, ', '.join(EXTENSIONS)))
        for fleet_file in files:
            _stamp, entries, file_plain = _cached(fleet_file, variable, decrypt)
            phones.extend(entries)
            plain = plain and file_plain
    return FleetData(phones, plain)


def resolve_file_string(templar, text):
    """A string read from a fleet file, resolved as Ansible resolves the same value in group_vars:
    templated if it may be a template (marked trusted here, and so templated on 2.19 too)."""
    if possibly_template(text):
        return templar.template(text)
    return text
