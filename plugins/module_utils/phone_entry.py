# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The phone-entry rule: what makes one entry of ``mpp_phones`` usable, written once.

An entry is a mapping with a ``mac`` in a spelling module_utils/mac.py accepts. In a fleet no
two entries share a MAC or a profile file name; when profiles are encrypted each entry holds its
own key; and each entry has a template (its model's, or the default one). The fleet vars
plugin, the phone_profiles action and phone_check's fleet mode all check entries here; each
may word the failure for its own caller from :class:`PhoneEntryError`'s ``kind`` and ``index``.

No cryptography here: the key's encoding is checked by a function the caller passes in.
"""

from __future__ import annotations

import collections

from ansible_collections.phoneprov.mpp.plugins.module_utils.mac import MACError, normalize_mac

# PhoneEntryError.kind
NOT_A_MAPPING = 'not_a_mapping'
NO_MAC = 'no_mac'
BAD_MAC = 'bad_mac'
DUPLICATE_MAC = 'duplicate_mac'
DUPLICATE_FILE = 'duplicate_file'
NO_KEY = 'no_key'
BAD_KEY = 'bad_key'
NO_TEMPLATE = 'no_template'

# One checked entry: ``index`` in the fleet, ``mac`` in ``$MA`` form, its profile ``filename``,
# the entry itself (``phone``) and the name of its ``template``.
PhoneEntry = collections.namedtuple('PhoneEntry', 'index mac filename phone template')


class PhoneEntryError(ValueError):
    """An unusable phone entry; ``kind`` says why, ``index`` (0-based) says which."""

    def __init__(self, kind, index, message):
        super(PhoneEntryError, self).__init__(message)
        self.kind, self.index = kind, index


def describe_phone(index, entry):
    """``phone #3 (mac 00:0e:08:ab:cd:ef)``: how failures name an entry (``index`` is 0-based)."""
    mac = entry.get('mac') if isinstance(entry, dict) else None
    return 'phone #%d%s' % (index + 1, ' (mac %s)' % mac if isinstance(mac, str) else '')


def phone_mac(index, entry):
    """The ``$MA`` form of the entry's MAC; PhoneEntryError when the entry has no usable one."""
    if not isinstance(entry, dict):
        raise PhoneEntryError(NOT_A_MAPPING, index, 'phone #%d is a %s, not a mapping with a mac' % (index + 1, type(entry).__name__))
    mac = entry.get('mac')
    if mac is None or mac == '':
        raise PhoneEntryError(NO_MAC, index, '%s has no mac' % describe_phone(index, entry))
    try:
        return normalize_mac(mac)
    except MACError as exc:
        hint = '' if isinstance(mac, str) else ' (YAML read it as a number: quote the MAC)'
        raise PhoneEntryError(BAD_MAC, index, '%s: %s%s' % (describe_phone(index, entry), exc, hint))


class FleetCheck(object):
    """Checks a fleet entry by entry, remembering MACs and file names already taken.

    ``filename(ma)`` gives a phone's profile file name. With ``encrypt`` other than ``none``
    every entry needs a string key under ``key_field``; ``key_check(key)`` raises ValueError for
    a key that cannot be used. ``templates`` (model -> template) and ``default_template`` choose
    each entry's template.
    """

    def __init__(self, filename, encrypt='none', key_field='key', key_check=None, templates=None, default_template=None):
        self.filename, self.encrypt, self.key_field, self.key_check = filename, encrypt, key_field, key_check
        self.templates, self.default_template = templates or {}, default_template
        self.seen_mac, self.seen_file = {}, {}

    def check(self, index, entry):
        """The PhoneEntry for ``entry`` (the fleet's ``index``-th); PhoneEntryError otherwise."""
        ma = phone_mac(index, entry)
        if ma in self.seen_mac:
            raise _error(DUPLICATE_MAC, index, entry, ': duplicate MAC %s, already used by phone #%d' % (ma, self.seen_mac[ma] + 1))
        self.seen_mac[ma] = index
        filename = self.filename(ma)
        if filename in self.seen_file:
            raise _error(DUPLICATE_FILE, index, entry, ': file name %s already used by phone #%d' % (filename, self.seen_file[filename] + 1))
        self.seen_file[filename] = index
        if self.encrypt != 'none':
            self._check_key(index, entry)
        return PhoneEntry(index, ma, filename, entry, self._template(index, entry))

    def _check_key(self, index, entry):
        key = entry.get(self.key_field)
        if key is None or key == '':
            raise _error(NO_KEY, index, entry, ' has no %s: encrypt=%s needs a key per phone' % (self.key_field, self.encrypt))
        if not isinstance(key, str):
            raise _error(BAD_KEY, index, entry, ': %s must be a string' % self.key_field)
        if self.key_check is not None:
            try:
                self.key_check(key)
            except ValueError as exc:
                raise _error(BAD_KEY, index, entry, ': %s: %s' % (self.key_field, exc))

    def _template(self, index, entry):
        model = entry.get('model')
        template = self.templates.get(model) if isinstance(model, str) else None
        if template is None:
            template = self.default_template
        if not template:
            raise _error(NO_TEMPLATE, index, entry, ': no template for model %r (templates has %s) and no default template'
                         % (model, ', '.join(sorted(self.templates)) or 'none'))
        return template


def _error(kind, index, entry, problem):
    """The PhoneEntryError ``describe_phone(...) + problem`` (named only when it is raised)."""
    return PhoneEntryError(kind, index, describe_phone(index, entry) + problem)
