# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The subject of a Cisco MPP phone's client certificate: model, serial, MAC.

``OU`` holds the product name, ``L`` the serial number and ``ST`` (printed ``S=`` in the
provisioning guide) the MAC address. Units made before firmware 2.0 carry a generic
certificate, ``OU=cisco.com, L=ciscogeneric, S=ciscogeneric``, that names no phone.

Which attribute names the phone is the *identity rule* (:func:`client_identity`, role variable
``mpp_server_client_identity``), chosen in this one place for nginx's maps, lab_ca, phone_check
and the log: ``st`` (default, the guide's subject), ``cn_sep`` (the ``SEP<mac>`` suffix of the
CN, as Cisco's manufacturing certificates (MIC) write it:
``serialNumber=PID:CP-8861 SN:FCH2133E8B9, O=Cisco Systems Inc., OU=CTG, CN=CP-8861-SEP2C3124C9F8E1``;
the MIC subject of 3PCC firmware is not verified) or ``attribute`` (a named attribute and a
pattern). Model and serial come from ``OU``/``L`` or from serialNumber's ``PID:``/``SN:``. Never
"any 12 hex digits anywhere": the serial in ``L=88012BA01234`` is itself 12 hex digits.

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

import collections
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

IDENTITY_RULES = ('st', 'cn_sep', 'attribute')
DEFAULT_IDENTITY = 'st'
# Where model and serial come from: an attribute's whole value, or a part of serialNumber.
MODEL_SOURCES = ('OU', 'PID')
SERIAL_SOURCES = ('L', 'SN')
SERIAL_NUMBER_PARTS = {'PID': 'PID', 'SN': 'SN'}
SERIAL_NUMBER = 'serialNumber'
# The CN of a MIC ends in SEP<mac> (any case), at the start of the CN or after a non-alphanumeric.
CN_SEP_PREFIX = '[Ss][Ee][Pp]'
MAC_GROUP = 'mac'
DEFAULT_ATTRIBUTE_PATTERN = '(?P<mac>[0-9A-Fa-f]{12})'
_TWELVE_HEX = re.compile(r'^[0-9A-Fa-f]{12}\Z')
_CN_SEP = re.compile(r'^(?:.*[^0-9A-Za-z])?%s(?P<mac>[0-9A-Fa-f]{12})\Z' % CN_SEP_PREFIX, re.S)

ClientIdentity = collections.namedtuple('ClientIdentity', 'rule attribute pattern model serial')

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


def parse_dn_items(subject):
    """Parse a distinguished name in any accepted spelling into ``[(attribute, value), ...]`` in its order.

    Attribute names as :func:`parse_dn` gives them; an attribute written twice comes twice.
    """
    if isinstance(subject, dict):
        return [(short_name(k), v) for k, v in subject.items()]
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
    items = []
    for part in parts:
        if not part.strip():
            continue
        name, sep, value = part.partition('=')
        if not sep:
            raise SubjectError('cannot read subject %r: %r is not NAME=VALUE' % (subject, part.strip()))
        items.append((short_name(name.strip()), _unescape(_strip_unescaped(value))))
    return items


def parse_dn(subject):
    """Parse a distinguished name in any accepted spelling into a dict of attributes (the last value of each).

    Keys are OU, L, ST, CN, O, C, emailAddress (when present) and any other attribute as written.
    """
    return dict(parse_dn_items(subject))


# --- the identity rule ---------------------------------------------------------------------------

def client_identity(spec=None):
    """The identity rule as a :data:`ClientIdentity` from ``mpp_server_client_identity``'s value.

    ``spec`` is None (the default, ``st``), a rule name, a ClientIdentity, or a dict with
    ``rule`` and optionally ``attribute`` and ``pattern`` (rule ``attribute``: the attribute's
    whole value must match the regex, whose group ``(?P<mac>...)`` holds the MAC as 12 hex
    digits), ``model`` (``OU`` or ``PID``) and ``serial`` (``L`` or ``SN``). Rule ``cn_sep``
    takes model and serial from serialNumber's ``PID:`` and ``SN:`` unless told otherwise.
    Raises SubjectError naming the problem.
    """
    if isinstance(spec, ClientIdentity):
        return spec
    if spec is None or isinstance(spec, str):
        spec = {'rule': spec or DEFAULT_IDENTITY}
    if not isinstance(spec, dict):
        raise SubjectError('client identity must be a rule name (%s) or a dict with rule, got %r' % (', '.join(IDENTITY_RULES), spec))
    unknown = sorted(set(spec) - set(ClientIdentity._fields))
    if unknown:
        raise SubjectError('client identity: unknown keys %s (use %s)' % (', '.join(unknown), ', '.join(ClientIdentity._fields)))
    rule = spec.get('rule') or DEFAULT_IDENTITY
    if rule not in IDENTITY_RULES:
        raise SubjectError('client identity rule %r: expected one of %s' % (rule, ', '.join(IDENTITY_RULES)))
    mic = rule == 'cn_sep'
    model = spec.get('model') or ('PID' if mic else 'OU')
    serial = spec.get('serial') or ('SN' if mic else 'L')
    if model not in MODEL_SOURCES or serial not in SERIAL_SOURCES:
        raise SubjectError('client identity: model comes from %s, serial from %s; got %r, %r'
                           % (' or '.join(MODEL_SOURCES), ' or '.join(SERIAL_SOURCES), model, serial))
    attribute, pattern = spec.get('attribute'), spec.get('pattern')
    if rule == 'attribute':
        if not attribute or not isinstance(attribute, str) or not re.match(r'^[A-Za-z][A-Za-z0-9.]*$', attribute):
            raise SubjectError('client identity rule attribute needs attribute, an attribute name such as CN or UID, got %r' % (attribute,))
        attribute, pattern = short_name(attribute), pattern or DEFAULT_ATTRIBUTE_PATTERN
        _check_pattern(pattern)
    elif attribute or pattern:
        raise SubjectError('client identity rule %s takes no attribute or pattern (those are for rule attribute)' % rule)
    else:
        attribute = 'CN' if mic else MAC_ATTRIBUTE
    return ClientIdentity(rule, attribute, pattern, model, serial)


def _check_pattern(pattern):
    try:
        compiled = re.compile(pattern)
    except (re.error, TypeError) as exc:
        raise SubjectError('client identity pattern %r is not a regex: %s' % (pattern, exc))
    if MAC_GROUP not in compiled.groupindex:
        raise SubjectError('client identity pattern %r has no group (?P<mac>...) holding the MAC' % (pattern,))
    if '(?<' in pattern.replace('(?<=', '').replace('(?<!', ''):
        raise SubjectError('client identity pattern %r: write named groups as (?P<name>...), which Python and nginx both read' % (pattern,))


def _serial_number_part(attributes, part):
    match = re.search(r'(?:^|\s)%s:(\S+)' % part, attributes.get(SERIAL_NUMBER) or '')
    return match.group(1) if match else None


def _source(attributes, source):
    return _serial_number_part(attributes, source) if source in SERIAL_NUMBER_PARTS else attributes.get(source)


def _identity_mac(items, identity, subject):
    values = [value for name, value in items if name == identity.attribute]
    if len(values) > 1:
        # Which one names the phone would be a reader's choice (nginx's map, this parser): none does.
        raise SubjectError('subject %r has %d %s attributes: a phone client certificate names its MAC once (identity rule %s)'
                           % (subject, len(values), identity.attribute, identity.rule))
    value = values[0] if values else None
    if value is None:
        raise SubjectError('subject %r has no %s attribute: not a phone client certificate (identity rule %s)'
                           % (subject, 'ST (S=)' if identity.attribute == 'ST' else identity.attribute, identity.rule))
    if identity.rule == 'st':
        mac = value
    else:
        match = (_CN_SEP.match(value) if identity.rule == 'cn_sep' else re.fullmatch(identity.pattern, value))
        mac = match.group(MAC_GROUP) if match else None
        if mac is None or not _TWELVE_HEX.match(mac):
            expected = 'SEP<mac> at its end' if identity.rule == 'cn_sep' else 'pattern %s' % identity.pattern
            raise SubjectError('subject %r: %s %r does not hold a MAC as %s' % (subject, identity.attribute, value, expected))
    try:
        return normalize_mac(mac)
    except MACError as exc:
        raise SubjectError('subject %r: %s holds no MAC address (%s)' % (subject, identity.attribute, exc))


def client_subject(subject, identity=None):
    """Return ``{'model', 'serial', 'mac', 'generic'}`` for a phone's client certificate subject.

    ``mac`` is the ``$MA`` form, read by the identity rule (:func:`client_identity`; default
    ``st``). For the generic pre-2.0 certificate ``generic`` is true and ``mac`` and ``serial``
    are None. Raises SubjectError naming the problem otherwise, also for a subject holding the
    identity's attribute twice (two ``ST``): nginx's map gives no MAC for it either.
    """
    identity = client_identity(identity)
    items = parse_dn_items(subject)
    attributes = dict(items)
    model = _source(attributes, identity.model)
    if any((attributes.get(name) or '').lower() == GENERIC_MARKER for name in GENERIC_ATTRIBUTES):
        return {'model': model, 'serial': None, 'mac': None, 'generic': True}
    mac = _identity_mac(items, identity, subject)
    return {'model': model, 'serial': _source(attributes, identity.serial), 'mac': mac, 'generic': False}


CLIENT_STYLES = ('guide', 'mic')
MIC_ORGANIZATION = 'Cisco Systems Inc.'
MIC_UNIT = 'CTG'


def build_client_subject(mac=None, model=None, serial=None, generic=False, organization=None, style='guide'):
    """Subject dict of a phone client certificate (or the generic one).

    Style ``guide``: OU=model, L=serial, ST=$MA. Style ``mic`` (a manufacturing certificate):
    CN=<model>-SEP<$MAU>, serialNumber=PID:<model> SN:<serial>, O=Cisco Systems Inc., OU=CTG.
    The serial defaults to the MAC upper-case, the model to DEFAULT_MODEL.
    """
    if style not in CLIENT_STYLES:
        raise SubjectError('style must be one of %s, got %r' % (', '.join(CLIENT_STYLES), style))
    if generic:
        subject = dict(GENERIC_SUBJECT)
    else:
        if not mac:
            raise SubjectError('a phone client certificate needs the phone\'s mac (or generic: true)')
        try:
            ma = normalize_mac(mac)
        except MACError as exc:
            raise SubjectError(str(exc))
        model, serial = str(model or DEFAULT_MODEL), str(serial or ma.upper())
        if style == 'mic':
            if re.search(r'\s', model + serial):
                raise SubjectError('a MIC subject writes PID:<model> SN:<serial>: model and serial without white space, got %r, %r'
                                   % (model, serial))
            subject = {SERIAL_NUMBER: 'PID:%s SN:%s' % (model, serial), 'O': MIC_ORGANIZATION, 'OU': MIC_UNIT,
                       'CN': '%s-SEP%s' % (model, ma.upper())}
        else:
            subject = {'OU': model, 'L': serial, 'ST': ma}
    if organization:
        subject['O'] = organization
    return subject


# --- the same rule as nginx regexes (PCRE) over $ssl_client_s_dn --------------------------------

def dn_attribute_regex(attribute, value_regex, only=False):
    """PCRE for an RFC 2253 name (nginx's ``$ssl_client_s_dn``) whose ``attribute`` value matches ``value_regex``.

    As :func:`parse_dn` reads a name: components split at unescaped ``,`` and ``+``, the
    attribute's last value counts, and an escaped ``\\,ST=`` inside another value is no attribute.
    ``only``: as :func:`client_subject` reads the identity's attribute, a name holding it twice matches nothing.
    """
    name = re.escape(attribute)
    later = r'(?!(?:%s[,+])*%s=)' % (_RDN_COMPONENT, name)
    twice = r'(?!(?:%s[,+])*%s=%s[,+](?:%s[,+])*%s=)' % (_RDN_COMPONENT, name, _RDN_COMPONENT, _RDN_COMPONENT, name) if only else ''
    return r'^%s(?:%s[,+])*%s=%s(?:[,+]%s|$)' % (twice, _RDN_COMPONENT, name, value_regex, later)


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
        regex = dn_attribute_regex(MAC_ATTRIBUTE, space + spelling_regex(spelling, prefix) + space, only=True)
        entries.append((regex, ''.join('$' + name for name in spelling_captures(spelling, prefix))))
    return entries


def nginx_attribute_map(attribute, capture):
    """``(regex, value)`` of an nginx ``map`` taking ``attribute``'s last value as written (RFC 2253 escapes kept)."""
    return dn_attribute_regex(attribute, '(?<%s>%s)' % (capture, _RDN_COMPONENT)), '$' + capture


def nginx_identity_mac_map(identity=None, capture='mpp_mac'):
    """``[(regex, value)]`` of the nginx ``map $ssl_client_s_dn`` giving the MAC by the identity rule.

    ``st``: :func:`nginx_mac_map`. ``cn_sep``: the CN's ``SEP`` suffix. ``attribute``: the
    attribute's value matching the pattern, its group ``mac`` as the value (nginx reads the
    value as RFC 2253 prints it, with its escapes). The value is the MAC's twelve hex digits.
    """
    identity = client_identity(identity)
    if identity.rule == 'st':
        return nginx_mac_map(capture)
    name = capture + '0_1'
    if identity.rule == 'cn_sep':
        value_regex = r'(?:%s[^0-9A-Za-z\\,+])?%s(?<%s>[0-9A-Fa-f]{12})' % (_RDN_COMPONENT, CN_SEP_PREFIX, name)
    else:
        value_regex = '(?:%s)' % identity.pattern.replace('(?P<%s>' % MAC_GROUP, '(?<%s>' % name).replace('(?P<', '(?<')
    return [(dn_attribute_regex(identity.attribute, value_regex, only=True), '$' + name)]


def nginx_identity_source_map(identity, what, capture):
    """``(regex, value)`` of the nginx ``map`` giving ``what`` (``model`` or ``serial``) by the identity rule."""
    source = getattr(client_identity(identity), what)
    if source not in SERIAL_NUMBER_PARTS:
        return nginx_attribute_map(source, capture)
    part = r'(?:%s )?%s:(?<%s>[^\\,+ ]+)%s' % (_RDN_COMPONENT, source, capture, _RDN_COMPONENT)
    return dn_attribute_regex(SERIAL_NUMBER, part), '$' + capture


def nginx_generic_regex():
    """PCRE matching the subject of a generic certificate (:func:`client_subject` ``generic``), any case."""
    return '(?i)' + '|'.join('(?:%s)' % dn_attribute_regex(name, re.escape(GENERIC_MARKER)) for name in GENERIC_ATTRIBUTES)
