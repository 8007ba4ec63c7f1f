# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Distinguished name attributes: the one table of their short names, other spellings and OIDs.

OpenSSL prints ``ST``, the provisioning guide ``S``, RFC 4514 and Python's ``ssl`` module
``stateOrProvinceName``: all are ``ST`` here. The order is the order subjects are built in
(module_utils/pki.py). No cryptography import, so subject parsing works without it.

``serialNumber`` (2.5.4.5) is the attribute Cisco's manufacturing certificates (MIC) carry
``PID:<model> SN:<serial>`` in; nginx prints it ``serialNumber=``, Python's cryptography
``2.5.4.5=``. OpenSSL's short name ``SN`` is *surname* (2.5.4.4), not serialNumber, so ``SN``
is no spelling of it here.
"""

from __future__ import annotations

# (short name, dotted OID, other spellings), in the order a subject is built.
ATTRIBUTES = (
    ('serialNumber', '2.5.4.5', ('2.5.4.5',)),
    ('C', '2.5.4.6', ('countryName',)),
    ('ST', '2.5.4.8', ('S', 'stateOrProvinceName')),
    ('L', '2.5.4.7', ('localityName',)),
    ('O', '2.5.4.10', ('organizationName',)),
    ('OU', '2.5.4.11', ('organizationalUnitName',)),
    ('CN', '2.5.4.3', ('commonName',)),
    ('emailAddress', '1.2.840.113549.1.9.1', ('E',)),
)
SHORT_NAMES = tuple(short for short, _oid, _other in ATTRIBUTES)
OIDS = dict((short, oid) for short, oid, _other in ATTRIBUTES)
_ALIASES = dict((name.upper(), short) for short, oid, other in ATTRIBUTES for name in (short, oid) + other)


def short_name(name):
    """The short name of an attribute in any known spelling (case-insensitive); others as given."""
    return _ALIASES.get(str(name).upper(), name)
