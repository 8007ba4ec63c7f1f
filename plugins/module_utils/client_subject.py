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
"""

from __future__ import annotations

import re

from ansible_collections.phoneprov.mpp.plugins.module_utils.dn import short_name
from ansible_collections.phoneprov.mpp.plugins.module_utils.mac import MACError, normalize_mac

GENERIC_MARKER = 'ciscogeneric'
GENERIC_SUBJECT = {'OU': 'cisco.com', 'L': GENERIC_MARKER, 'ST': GENERIC_MARKER}
DEFAULT_MODEL = 'CP-8841-3PCC'

_SLASH_SPLIT = re.compile(r'/(?=[A-Za-z][A-Za-z0-9.]*\s*=)')
_HEX_ESCAPE = re.compile(r'\\([0-9A-Fa-f]{2})')


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


def _unescape(value):
    value = _HEX_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)
    value = re.sub(r'\\(.)', r'\1', value)
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value


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
        attributes[short_name(key)] = _unescape(value.strip())
    return attributes


def client_subject(subject):
    """Return ``{'model', 'serial', 'mac', 'generic'}`` for a phone's client certificate subject.

    ``mac`` is the ``$MA`` form. For the generic pre-2.0 certificate ``generic`` is true and
    ``mac`` and ``serial`` are None. Raises SubjectError naming the problem otherwise.
    """
    attributes = parse_dn(subject)
    model = attributes.get('OU')
    serial = attributes.get('L')
    mac = attributes.get('ST')
    if (serial or '').lower() == GENERIC_MARKER or (mac or '').lower() == GENERIC_MARKER:
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
