# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``<flat-profile>`` XML format of Cisco MPP phones: render and parse.

One element per parameter under root ``<flat-profile>``; the element name is the web page's
field name with spaces and ``[ ] ( ) /`` replaced by ``_`` (``Dial_Plan_1_``). Names are
case-sensitive, unknown elements are ignored, the last of repeated elements wins, ``<X/>``
sets an empty value and attribute ``ua`` (na, ro, rw) sets what the phone's user may do.

Profiles copied from real phones and peers are read as the phone reads them: a namespaced root
(``<flat-profile xmlns="http://www.sipura.net/xsd/SPA50x-30x-SIP">`` in SPA dumps), nested
blocks (the ATAs' ``<router-configuration>``: their leaf elements are parameters), CRLF line
ends, comments, an XML declaration, dotted and hyphenated names (``CWMP_V1.2_Support``,
``Enable_LLDP-MED``). A document that is not well-formed is refused with its line and column.
"""

from __future__ import annotations

import re
from xml.etree import ElementTree
from xml.sax.saxutils import escape

ROOT = 'flat-profile'
UA_VALUES = ('na', 'ro', 'rw')
ELEMENT_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_.-]*$')
_FIELD_SEPARATORS = re.compile(r'[ \[\]()/]')
# Names already found good: a push checks the same few names for every phone.
_CHECKED_NAMES = set()
# Characters XML 1.0 cannot carry at all, even escaped.
_XML_ILLEGAL = re.compile(u'[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]')


class ProfileError(ValueError):
    """A parameter or profile that breaks the flat-profile format."""


def element_name(field_name):
    """The element name for a web page field name: ``Dial Plan[1]`` -> ``Dial_Plan_1_``."""
    return _FIELD_SEPARATORS.sub('_', field_name)


def check_element_name(name):
    """Raise ProfileError when ``name`` is not a flat-profile element name."""
    if isinstance(name, str) and name in _CHECKED_NAMES:
        return name
    if not isinstance(name, str) or not ELEMENT_NAME.match(name) or name.lower().startswith('xml'):
        hint = ''
        if isinstance(name, str) and ELEMENT_NAME.match(element_name(name)):
            hint = '; the element for that field is %r' % element_name(name)
        raise ProfileError('parameter name %r is not a flat-profile element name: use letters, digits '
                           'and _ (spaces and [ ] ( ) / become _)%s' % (name, hint))
    if len(_CHECKED_NAMES) < 10000:
        _CHECKED_NAMES.add(name)
    return name


def format_value(value):
    """The text of a parameter value: booleans as Yes/No (the phone's spelling), None as empty."""
    if value is None:
        return ''
    if isinstance(value, bool):
        return 'Yes' if value else 'No'
    if isinstance(value, (int, float, str)):
        text = str(value)
    else:
        raise ProfileError('value %r is a %s; a parameter value is a string, number, boolean or null'
                           % (value, type(value).__name__))
    if _XML_ILLEGAL.search(text):
        raise ProfileError('value %r contains a control character XML cannot carry' % (text,))
    return text


def _split_parameter(name, spec):
    if isinstance(spec, dict):
        unknown = set(spec) - {'value', 'ua'}
        if unknown:
            raise ProfileError('parameter %s: unknown keys %s (use value and ua)' % (name, ', '.join(sorted(unknown))))
        value, ua = spec.get('value'), spec.get('ua')
    else:
        value, ua = spec, None
    if ua is not None and ua not in UA_VALUES:
        raise ProfileError('parameter %s: ua must be one of %s, got %r' % (name, ', '.join(UA_VALUES), ua))
    return value, ua


def render_flat_profile(parameters, indent='  '):
    """Render a dict of parameters as ``<flat-profile>`` XML text (str, ends with a newline).

    A value is a string, number, boolean (Yes/No) or None (empty element), or a dict
    ``{'value': ..., 'ua': 'na'|'ro'|'rw'}``. Raises ProfileError naming the parameter at fault.
    """
    if not isinstance(parameters, dict):
        raise ProfileError('parameters must be a dict of name: value, got %s' % type(parameters).__name__)
    lines = ['<%s>' % ROOT]
    for name, spec in parameters.items():
        check_element_name(name)
        value, ua = _split_parameter(name, spec)
        try:
            text = format_value(value)
        except ProfileError as exc:
            raise ProfileError('parameter %s: %s' % (name, exc))
        # ua is one of UA_VALUES: nothing to escape in it.
        attr = ' ua="%s"' % ua if ua else ''
        if text == '':
            lines.append('%s<%s%s/>' % (indent, name, attr))
        else:
            if '&' in text or '<' in text or '>' in text:
                text = escape(text)
            lines.append('%s<%s%s>%s</%s>' % (indent, name, attr, text, name))
    lines.append('</%s>' % ROOT)
    return '\n'.join(lines) + '\n'


def _local_name(tag):
    """``{namespace}name`` -> ``name``: the phone ignores the namespace of a SPA dump."""
    return tag.rpartition('}')[2]


def _leaves(element):
    for child in element:
        if not isinstance(child.tag, str):
            continue  # comments and processing instructions
        if len(child):
            # A block (<router-configuration>): its elements are the parameters.
            yield from _leaves(child)
        else:
            yield child


def profile_elements(data):
    """Every parameter element of profile XML (bytes or str), in document order: ``[(name, value)]``.

    Leaf elements anywhere below the root count (a nested block is not a parameter itself);
    repeated names stay repeated. Raises ProfileError when the document is not well-formed (with
    line and column, 1-based) or its root is not ``<flat-profile>`` (in any namespace).
    """
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        line, column = exc.position
        raise ProfileError('profile is not well-formed XML at line %d, column %d: %s'
                           % (line, column + 1, str(exc).split(':', 1)[0]))
    if not isinstance(root.tag, str) or _local_name(root.tag) != ROOT:
        raise ProfileError('profile root element is <%s>, expected <%s>' % (root.tag, ROOT))
    return [(_local_name(leaf.tag), (leaf.text or '').strip()) for leaf in _leaves(root)]


def parse_flat_profile(data):
    """Parse profile XML (bytes or str) into a dict of parameter -> value, as the phone reads it.

    The last of repeated elements wins; empty elements give ''. Raises ProfileError as
    :func:`profile_elements` does.
    """
    return dict(profile_elements(data))


def check_flat_profile(data):
    """Raise ProfileError unless ``data`` is a well-formed ``<flat-profile>`` document."""
    parse_flat_profile(data)
