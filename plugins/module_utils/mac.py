# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MAC rule: every spelling of a phone's MAC address to the phone's macro forms.

``$MA`` is twelve lower-case hex digits (the profile file name ``$MA.xml``),
``$MAU`` the same upper-case and ``$MAC`` lower-case with colons. This is the
one place MAC spellings are parsed; modules, filters and roles call it.
"""

from __future__ import annotations

import re

# Accepted spellings: 000e08abcdef, 00:0e:08:ab:cd:ef, 00-0e-08-ab-cd-ef, 000e.08ab.cdef (any case).
_MAC_FORMS = (
    re.compile(r'^[0-9A-Fa-f]{12}$'),
    re.compile(r'^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}$'),
    re.compile(r'^[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5}$'),
    re.compile(r'^[0-9A-Fa-f]{4}(?:\.[0-9A-Fa-f]{4}){2}$'),
)
MA_PATTERN = r'[0-9a-f]{12}'


class MACError(ValueError):
    """A value that is not a MAC address in any accepted spelling."""


def normalize_mac(value):
    """Return the ``$MA`` form (``000e08abcdef``) of a MAC in any accepted spelling."""
    if not isinstance(value, str):
        raise MACError('MAC address must be a string, got %s %r' % (type(value).__name__, value))
    text = value.strip()
    if not any(form.match(text) for form in _MAC_FORMS):
        raise MACError(
            'invalid MAC address %r: expected 12 hex digits, as 000e08abcdef, 00:0e:08:ab:cd:ef, '
            '00-0e-08-ab-cd-ef or 000e.08ab.cdef' % (value,))
    return re.sub(r'[^0-9A-Fa-f]', '', text).lower()


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
