# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The subject of a Cisco MPP phone's client certificate: model, serial, MAC.

``OU`` holds the product name, ``L`` the serial number and ``ST`` (printed ``S=`` in the
provisioning guide) the MAC address. Units made before firmware 2.0 carry a generic
certificate, ``OU=cisco.com, L=ciscogeneric, S=ciscogeneric``, that names no phone.

Accepted spellings of a subject: RFC 2253 as nginx's ``$ssl_client_s_dn``
(``CN=x,OU=CP-8841-3PCC,L=88012BA01234,ST=000e08abcdef``), OpenSSL's default print
(``OU = CP-8841-3PCC, L = ...``), the legacy slash form (``/OU=.../L=.../ST=...``)
and the guide's print (``OU=CP-8841-3PCC, L=88012BA01234, S=000e08abcdef``).

Role ``provisioning_server`` reads the same rule in nginx: :func:`nginx_mac_map` and
:func:`nginx_generic_regex` give the PCRE regexes of its ``map`` blocks over
``$ssl_client_s_dn`` (filters ``nginx_mac_map`` and ``nginx_generic_regex``), generated from
:data:`GENERIC_MARKER`, :data:`GENERIC_ATTRIBUTES` and the MAC spellings of module_utils/mac.py.
"""

from __future__ import annotations

import re

from ansible_collections.phoneprov.mpp.plugins.module_utils.dn import short_name
from ansible_collections.phoneprov.mpp.plugins.module_utils.mac import (
    SPELLINGS, WHITESPACE, MACError, normalize_mac, spelling_captures, spelling_regex)

GENERIC_MARKER = 'ciscogeneric'
# A certificate is generic when the last value of either attribute is the marker (any case).
GENERIC_ATTRIBUTES = ('L', 'ST')
GENERIC_SUBJECT = {'OU': 'cisco.com', 'L': GENERIC_MARKER, 'ST': GENERIC_MARKER}
DEFAULT_MODEL = 'CP-8841-3PCC'
MAC_ATTRIBUTE = 'ST'

_SLASH_SPLIT = re.compile(r'/(?=[A-Za-z][A-Za-z0-9.]*\s*=)')
# One escape at a time, left to right: a run of \XX is the UTF-8 of one or more characters.
_ESCAPE = re.compile(r'((?:\\[0-9A-Fa-f]{2})+)|\\(.)', re.S)
# One attribute=value of an RFC 2253 name: anything but an unescaped , or +.
_RDN_COMPONENT = r'(?:[^\\,+]|\\.)*'


class SubjectError(ValueError):
    """A subject that is not a phone client certificate subject."""


def _split_unescaped(text, separators):
    parts, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append('\\' + char)
            escaped = False
        elif char == '\\':
            escaped = True
        elif char in separators:
            parts.append(''.join(current))
            current = []
        else:
            current.append(char)
    parts.append(''.join(current))
    return parts


def _strip_unescaped(value):
    """White space around a value, except an escaped trailing one (RFC 2253 ``\\ ``)."""
    value = value.lstrip()
    while value and value[-1].isspace():
        before = value[:-1]
        if (len(before) - len(before.rstrip('\\'))) % 2:
            break  # an odd number of backslashes escapes it
        value = before
    return value


def _unescape_one(match):
    if match.group(1):
        octets = bytearray(int(match.group(1)[index + 1:index + 3], 16) for index in range(0, len(match.group(1)), 3))
        return octets.decode('utf-8', 'replace')
    return match.group(2)


def _unescape(value):
    # A quoted value (RFC 1779) loses its quotes; an escaped quote (\") is part of the value.
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"' and not value.endswith('\\"'):
        value = value[1:-1]
    return _ESCAPE.sub(_unescape_one, value)


def parse_dn(subject):
    """Parse a distinguished name in any accepted spelling into a dict of attributes.

    Keys are OU, L, ST, CN, O, C, emailAddress (when present) and any other attribute as written.
    """
    if isinstance(subject, dict):
        return dict((short_name(k), v) for k, v in subject.items())
    if not isinstance(subject, str):
        raise SubjectError('subject must be a string, got %s' % type(subject).__name__)
    text = subject.strip()
    if text.lower().startswith('subject='):
        text = text[len('subject='):].strip()
    if not text:
        raise SubjectError('subject is empty')
    if text.startswith('/'):
        parts = _SLASH_SPLIT.split(text[1:])
    else:
        parts = _split_unescaped(text, ',+')
    attributes = {}
    for part in parts:
        if not part.strip():
            continue
        name, sep, value = part.partition('=')
        if not sep:
            raise SubjectError('cannot read subject %r: %r is not NAME=VALUE' % (subject, part.strip()))
        key = name.strip()
        attributes[short_name(key)] = _unescape(_strip_unescaped(value))
    return attributes


def client_subject(subject):
    """Return ``{'model', 'serial', 'mac', 'generic'}`` for a phone's client certificate subject.

    ``mac`` is the ``$MA`` form. For the generic pre-2.0 certificate ``generic`` is true and
    ``mac`` and ``serial`` are None. Raises SubjectError naming the problem otherwise.
    """
    attributes = parse_dn(subject)
    model = attributes.get('OU')
    serial = attributes.get('L')
    mac = attributes.get(MAC_ATTRIBUTE)
    if any((attributes.get(name) or '').lower() == GENERIC_MARKER for name in GENERIC_ATTRIBUTES):
        return {'model': model, 'serial': None, 'mac': None, 'generic': True}
    if mac is None:
        raise SubjectError('subject %r has no ST (S=) attribute: not a phone client certificate' % (subject,))
    try:
        mac = normalize_mac(mac)
    except MACError as exc:
        raise SubjectError('subject %r: ST holds no MAC address (%s)' % (subject, exc))
    return {'model': model, 'serial': serial, 'mac': mac, 'generic': False}


def build_client_subject(mac=None, model=None, serial=None, generic=False, organization=None):
    """Subject dict of a phone client certificate: OU=model, L=serial, ST=$MA (or the generic one).

    The serial defaults to the MAC upper-case, the model to DEFAULT_MODEL.
    """
    if generic:
        subject = dict(GENERIC_SUBJECT)
    else:
        if not mac:
            raise SubjectError('a phone client certificate needs the phone\'s mac (or generic: true)')
        try:
            ma = normalize_mac(mac)
        except MACError as exc:
            raise SubjectError(str(exc))
        subject = {'OU': str(model or DEFAULT_MODEL), 'L': str(serial or ma.upper()), 'ST': ma}
    if organization:
        subject['O'] = organization
    return subject


# --- the same rule as nginx regexes (PCRE) over $ssl_client_s_dn --------------------------------

def dn_attribute_regex(attribute, value_regex):
    """PCRE for an RFC 2253 name (nginx's ``$ssl_client_s_dn``) whose ``attribute`` value matches ``value_regex``.

    As :func:`parse_dn` reads a name: components split at unescaped ``,`` and ``+``, the
    attribute's last value counts, and an escaped ``\\,ST=`` inside another value is no attribute.
    """
    name = re.escape(attribute)
    later = r'(?!(?:%s[,+])*%s=)' % (_RDN_COMPONENT, name)
    return r'^(?:%s[,+])*%s=%s(?:[,+]%s|$)' % (_RDN_COMPONENT, name, value_regex, later)


def _rfc2253_printed(char):
    """PCRE for one character as OpenSSL's RFC 2253 print writes it (space maybe escaped, others \\XX per octet)."""
    return ''.join(r'\\? ' if octet == 0x20 else re.escape('\\%02X' % octet) for octet in bytearray(char.encode('utf-8')))


def nginx_mac_map(capture='mpp_mac'):
    """``[(regex, value)]`` of the nginx ``map $ssl_client_s_dn``: one entry per MAC spelling of mac.py.

    Each regex takes the ``ST`` value, the spelling's hex groups as named captures
    ``<capture><spelling>_<n>``, and ``value`` joins them back (``$mpp_mac1_1$mpp_mac1_2...``):
    the MAC as its twelve hex digits, in the case the certificate writes them.
    """
    space = '(?:%s)*' % '|'.join(_rfc2253_printed(char) for char in WHITESPACE)
    entries = []
    for index, spelling in enumerate(SPELLINGS):
        prefix = '%s%d_' % (capture, index)
        regex = dn_attribute_regex(MAC_ATTRIBUTE, space + spelling_regex(spelling, prefix) + space)
        entries.append((regex, ''.join('$' + name for name in spelling_captures(spelling, prefix))))
    return entries


def nginx_attribute_map(attribute, capture):
    """``(regex, value)`` of an nginx ``map`` taking ``attribute``'s last value as written (RFC 2253 escapes kept)."""
    return dn_attribute_regex(attribute, '(?<%s>%s)' % (capture, _RDN_COMPONENT)), '$' + capture


def nginx_generic_regex():
    """PCRE matching the subject of a generic certificate (:func:`client_subject` ``generic``), any case."""
    return '(?i)' + '|'.join('(?:%s)' % dn_attribute_regex(name, re.escape(GENERIC_MARKER)) for name in GENERIC_ATTRIBUTES)
