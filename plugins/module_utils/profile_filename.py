# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The profile file name rule: the one name a phone asks for, writes to disk and nginx serves.

A file name pattern holds exactly one MAC macro, ``$MA`` (``000e08abcdef``), ``$MAU``
(``000E08ABCDEF``) or ``$MAC`` (``00:0e:08:ab:cd:ef``), also written ``$(MA)``...;
``{{ mac }}`` is accepted as ``$MA``. Around it stand only letters, digits and ``. _ - ~``, and
the name does not start with a dot: such a name is one file in the document root, one URL
path segment that needs no escaping, and one nginx ``location`` regex. The same pattern is
the tail of the phone's ``Profile_Rule`` (:func:`profile_rule_name`): the phone expands the
macro exactly as :func:`profile_filename` does.

Role ``provisioning_server`` serves the same pattern: :func:`nginx_profile_location` gives its
``location`` regex (the file name with the MAC captured) and ``try_files`` path, and
:func:`nginx_own_profile_regexes` the ``map`` that compares the requested MAC with the
certificate's (filters ``nginx_profile_location`` and ``nginx_own_profile_map``).
"""

from __future__ import annotations

import collections
import functools
import re

from ansible_collections.phoneprov.mpp.plugins.module_utils.mac import MacSpelling, spelling_regex
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_rule import (
    MAC_MACROS, EmulatorError, mac_macro_value, macro_names)

DEFAULT_PATTERN = '$MA.xml'
# Ansible users write the MAC as a Jinja2 expression; it is the phone's $MA.
_JINJA_MAC = re.compile(r'\{\{\s*mac\s*\}\}')
_MACRO_TOKEN = re.compile(r'\$(?:\((?i:MAU|MAC|MA)\)|MAU|MAC|MA)')
_LITERAL = re.compile(r'^[A-Za-z0-9_.~-]*$')

FilenamePattern = collections.namedtuple('FilenamePattern', 'prefix macro suffix')
# How each MAC macro spells the MAC (module_utils/mac.py spellings); the case is the macro's.
MACRO_SPELLINGS = {'MA': MacSpelling(12, ''), 'MAU': MacSpelling(12, ''), 'MAC': MacSpelling(2, ':')}


class FilenameError(ValueError):
    """A file name pattern that would not give each phone one file nginx can serve."""


@functools.lru_cache(maxsize=64)
def _parse_filename(pattern):
    if not pattern.strip():
        raise FilenameError('filename must be a non-empty string such as %s' % DEFAULT_PATTERN)
    text = _JINJA_MAC.sub('$MA', pattern)
    macros = macro_names(text)
    mac_macros = [name for name in macros if name in MAC_MACROS]
    if len(mac_macros) != 1 or len(macros) != 1:
        raise FilenameError(
            'filename %r must hold exactly one MAC macro ($MA, $MAU or $MAC) and no other macro: '
            'each phone needs its own file, named as the phone asks for it (found %s)'
            % (pattern, ', '.join('$' + name for name in macros) or 'none'))
    match = _MACRO_TOKEN.search(text)
    prefix, suffix = text[:match.start()], text[match.end():]
    for part in (prefix, suffix):
        if not _LITERAL.match(part):
            raise FilenameError(
                'filename %r: around the MAC macro only letters, digits and . _ - ~ are allowed '
                '(one file in the document root, one URL path segment nginx can match)' % (pattern,))
    if prefix.startswith('.'):
        raise FilenameError('filename %r starts with a dot: nginx does not serve hidden files' % (pattern,))
    return FilenamePattern(prefix, mac_macros[0], suffix)


def parse_filename(pattern):
    """Split a pattern into ``FilenamePattern(prefix, macro, suffix)``; FilenameError if unusable."""
    if not isinstance(pattern, str):
        raise FilenameError('filename must be a non-empty string such as %s' % DEFAULT_PATTERN)
    # A fleet push asks once per phone for the same pattern: parsed once (cached by text).
    return _parse_filename(pattern)


def profile_filename(pattern, mac):
    """The file name of the phone with MAC ``mac`` (any spelling) under ``pattern``."""
    parsed = parse_filename(pattern)
    try:
        return parsed.prefix + mac_macro_value(mac, parsed.macro) + parsed.suffix
    except EmulatorError as exc:
        raise FilenameError(str(exc))


def profile_rule_name(pattern):
    """The pattern as the phone's macros write it (``{{ mac }}.xml`` -> ``$MA.xml``), for Profile_Rule."""
    parsed = parse_filename(pattern)
    # $(MA) where a bare $MA would run into the text after it ($MAU, $MA_x).
    macro = '$(%s)' % parsed.macro if re.match(r'[A-Za-z0-9_]', parsed.suffix) else '$' + parsed.macro
    return parsed.prefix + macro + parsed.suffix


def filename_regex(pattern, mac_group='(%s)'):
    """Regex of the file names ``pattern`` gives (Python ``re`` and PCRE alike, unanchored), the MAC
    in ``mac_group``. The hex digits match in either case, as nginx's location does."""
    parsed = parse_filename(pattern)
    return '%s%s%s' % (re.escape(parsed.prefix), mac_group % spelling_regex(MACRO_SPELLINGS[parsed.macro]),
                       re.escape(parsed.suffix))


def nginx_profile_location(pattern, url_path='/'):
    """``{'regex', 'try_files'}`` of the nginx location serving ``pattern`` below ``url_path``.

    The regex (PCRE) captures the file name as ``$mpp_req_file`` and the MAC in it as
    ``$mpp_req_mac``; the hex digits match in either case, so that the owner asking in the
    other case learns 404 (no such file), everyone else 403. ``try_files`` reads the name
    as requested from the document root.
    """
    regex = '^%s(?<mpp_req_file>%s)$' % (re.escape(url_path), filename_regex(pattern, '(?<mpp_req_mac>%s)'))
    return {'regex': regex, 'try_files': '/$mpp_req_file'}


def nginx_own_profile_regexes():
    """PCRE regexes over ``"<certificate MAC>:<requested MAC>"`` that hold when both are one MAC.

    The certificate's MAC is twelve hex digits (any case, see client_subject.nginx_mac_map),
    the requested one as each macro spells it; compared case-insensitively. One entry per spelling.
    """
    regexes = []
    for spelling in sorted(set(MACRO_SPELLINGS.values())):
        groups = 12 // spelling.group
        cert = '([0-9a-f]{%d})' % spelling.group * groups
        requested = re.escape(spelling.separator).join('\\%d' % index for index in range(1, groups + 1))
        regexes.append('(?i)^%s:%s$' % (cert, requested))
    return regexes
