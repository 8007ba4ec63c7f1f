# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MAC rule: every spelling of a phone's MAC address to the phone's macro forms.

``$MA`` is twelve lower-case hex digits (the profile file name ``$MA.xml``),
``$MAU`` the same upper-case and ``$MAC`` lower-case with colons. This is the
one place MAC spellings are parsed; modules, filters and roles call it.

The accepted spellings are data (:data:`SPELLINGS`: hex digits per group and the
separator between groups, any case, surrounded by optional :data:`WHITESPACE`).
The Python check and the nginx ``map`` regexes of role ``provisioning_server``
(:func:`spelling_regex` with named captures, through module_utils/client_subject.py
and the ``nginx_mac_map`` filter) are both generated from it.
"""

from __future__ import annotations

import collections
import re

MacSpelling = collections.namedtuple('MacSpelling', 'group separator')

# 000e08abcdef, 00:0e:08:ab:cd:ef, 00-0e-08-ab-cd-ef, 000e.08ab.cdef (any case).
SPELLINGS = (
    MacSpelling(12, ''),
    MacSpelling(2, ':'),
    MacSpelling(2, '-'),
    MacSpelling(4, '.'),
)
HEX_DIGITS = 12
# What str.strip() removes around a spelling: every character str.isspace() holds true for.
WHITESPACE = (u'\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005'
              u'\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000')
MA_PATTERN = r'[0-9a-f]{12}'
_HEX = '[0-9A-Fa-f]'


def spelling_regex(spelling, capture=None):
    """The regex (no anchors) of one spelling; with ``capture``, group n is named ``<capture><n>``."""
    groups = HEX_DIGITS // spelling.group
    parts = []
    for index in range(1, groups + 1):
        digits = '%s{%d}' % (_HEX, spelling.group)
        parts.append('(?<%s%d>%s)' % (capture, index, digits) if capture else digits)
    return re.escape(spelling.separator).join(parts) if spelling.separator else ''.join(parts)


def spelling_captures(spelling, capture):
    """The names of the captures :func:`spelling_regex` gives ``spelling`` with prefix ``capture``."""
    return ['%s%d' % (capture, index) for index in range(1, HEX_DIGITS // spelling.group + 1)]


# Python's own flavour of named groups: (?P<name>...); unnamed here, one compiled form per spelling.
_MAC_FORMS = tuple(re.compile(r'^%s\Z' % spelling_regex(spelling)) for spelling in SPELLINGS)
_MA_FORM = re.compile(r'%s\Z' % MA_PATTERN)
_NOT_HEX = re.compile(r'[^0-9A-Fa-f]')


class MACError(ValueError):
    """A value that is not a MAC address in any accepted spelling."""


def normalize_mac(value):
    """Return the ``$MA`` form (``000e08abcdef``) of a MAC in any accepted spelling."""
    if type(value) is str and _MA_FORM.match(value):  # pylint: disable=unidiomatic-typecheck
        return value  # already $MA, as most fleet entries are: 100,000 phones ask four times each
    if not isinstance(value, str):
        raise MACError('MAC address must be a string, got %s %r' % (type(value).__name__, value))
    text = value.strip(WHITESPACE)
    if not any(form.match(text) for form in _MAC_FORMS):
        raise MACError(
            'invalid MAC address %r: expected 12 hex digits, as 000e08abcdef, 00:0e:08:ab:cd:ef, '
            '00-0e-08-ab-cd-ef or 000e.08ab.cdef' % (value,))
    return _NOT_HEX.sub('', text).lower()


def mac_upper(value):
    """The ``$MAU`` form: ``000E08ABCDEF``."""
    return normalize_mac(value).upper()


def mac_colon(value):
    """The ``$MAC`` form: ``00:0e:08:ab:cd:ef``."""
    ma = normalize_mac(value)
    return ':'.join(ma[i:i + 2] for i in range(0, 12, 2))


def is_mac(value):
    """True when ``value`` is a MAC in an accepted spelling."""
    try:
        normalize_mac(value)
    except MACError:
        return False
    return True
