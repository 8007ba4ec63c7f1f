# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The phone's Profile_Rule: its macros and its ``[--key ...]`` options, the one macro expander.

Every ``$NAME`` in the collection is expanded here: the emulator's URLs and certificate paths,
and the profile file names of ``phone_profiles`` (module_utils/profile_filename.py). ``$MA``,
``$MAU`` and ``$MAC`` are the MAC forms of module_utils/mac.py; ``$(NAME)`` is the same macro
with a delimiter; ``$$`` is a literal ``$``; an unknown ``$WORD`` is left as it is.
"""

from __future__ import annotations

import re
import shlex
from urllib.parse import quote, urlsplit

from ansible_collections.phoneprov.mpp.plugins.module_utils.mac import MACError, mac_colon, mac_upper, normalize_mac

RULE_OPTIONS = ('key', 'uid', 'pwd', 'post', 'alias')
GPP_LETTERS = 'ABCDEFGHIJKLMNOP'
MAC_MACROS = ('MA', 'MAU', 'MAC')
_MAC_SPELLERS = {'MA': str, 'MAU': mac_upper, 'MAC': mac_colon}  # each from the $MA form

# Longest names first so $MAC wins over $MA, $CCERT over $C, $PSN over $P ...
_MACRO = re.compile(r'\$(?:\$|\(([A-Za-z_]+)\)|(MAU|MAC|MA|PSN|PN|SN|CCERT|SWVER|HWVER|EXTIP|IP|[A-P]))')


class EmulatorError(ValueError):
    """Input a phone would not work with (a bad MAC, a macro without a value, a malformed rule or
    URL); never a failed resync. The message names the problem."""


def product_series(model):
    """``$PSN``: the product series number in a product name (``CP-8841-3PCC`` -> ``8841``)."""
    match = re.search(r'(\d{3,4})', model or '')
    return match.group(1) if match else ''


def mac_macro_values(mac):
    """``$MA``, ``$MAU`` and ``$MAC`` of one phone (any MAC spelling in, EmulatorError if none)."""
    ma = _ma(mac)
    return dict((macro, spell(ma)) for macro, spell in _MAC_SPELLERS.items())


def mac_macro_value(mac, macro):
    """One of ``$MA``, ``$MAU`` and ``$MAC`` of one phone (what a file name needs, without the others)."""
    return _MAC_SPELLERS[macro](_ma(mac))


def _ma(mac):
    try:
        return normalize_mac(mac)
    except MACError as exc:
        raise EmulatorError(str(exc))


def macro_names(text):
    """The macros ``text`` uses, in order, by name (``$(ma)`` is ``MA``; ``$$`` is none)."""
    return [match.group(1).upper() if match.group(1) else match.group(2)
            for match in _MACRO.finditer(text) if match.group(0) != '$$']


def macro_values(mac, model=None, serial=None, client_cert_installed=False, firmware=None, macros=None):
    """The macro table of one phone: name -> value; None for a macro that has no value."""
    values = mac_macro_values(mac)
    values.update({
        'PN': model, 'PSN': product_series(model) if model else None, 'SN': serial,
        'CCERT': 'Installed' if client_cert_installed else 'Not Installed',
        'SWVER': firmware, 'HWVER': None, 'IP': None, 'EXTIP': None,
    })
    for letter in GPP_LETTERS:
        values[letter] = None
    for name, value in (macros or {}).items():
        key = str(name)
        if key.upper().startswith('GPP_') and len(key) == 5:
            key = key[4:]
        key = key.upper()
        if key not in values:
            raise EmulatorError('macros: unknown macro %r; use A..P (or GPP_A..GPP_P), IP, EXTIP, HWVER, SWVER, '
                                'PN, PSN or SN' % (name,))
        if key in MAC_MACROS or key == 'CCERT':
            raise EmulatorError('macros: $%s comes from the phone (mac, client_cert) and cannot be set' % key)
        values[key] = '' if value is None else str(value)
    return values


_MACRO_SOURCE = {'PN': 'model', 'PSN': 'model', 'SN': 'serial', 'SWVER': 'firmware'}


def expand_macros(text, values, where='URL', url=False):
    """Expand ``$NAME`` and ``$(NAME)`` macros in ``text``; ``$$`` is a literal ``$``.

    A macro the phone knows but that has no value raises EmulatorError naming the option to set;
    an unknown ``$WORD`` is left as it is. With ``url``, characters a URL cannot carry in a value
    (the space of ``Not Installed``, ``?``, ``#``, ``%``) are percent-encoded.
    """
    if text is None:
        return None

    def _one(match):
        if match.group(0) == '$$':
            return '$'
        name = match.group(1) or match.group(2)
        key = name.upper() if match.group(1) else name
        if key not in values:
            return match.group(0)
        value = values[key]
        if value is None:
            if key in _MACRO_SOURCE:
                hint = 'give %s' % _MACRO_SOURCE[key]
            elif key in GPP_LETTERS:
                hint = 'give macros: {%s: ...} (the phone\'s GPP_%s)' % (key, key)
            else:
                hint = 'give macros: {%s: ...}' % key
            raise EmulatorError('%s uses $%s but it has no value: %s' % (where, key, hint))
        return quote(value, safe="/:@!$&'()*+,;=-._~") if url else value
    return _MACRO.sub(_one, text)


def _split_options(rule):
    """``'[--key x] https://...'`` -> (``'--key x'`` or None, ``'https://...'``)."""
    text = rule.strip()
    if not text.startswith('['):
        return None, text
    for index, char in _outside_quotes(text, 1):
        if char == ']':
            return text[1:index], text[index + 1:].strip()
    raise EmulatorError('profile rule %r: the options bracket [ ... ] is not closed' % (rule,))


def parse_profile_rule(rule):
    """Split a Profile_Rule into ``(options, url)``: ``options`` maps key/uid/pwd/post/alias to text.

    ``[--key "$B"] https://prov.example.com/cfg/$MA.xml`` -> ``({'key': '$B'}, 'https://...')``.
    Values may be quoted (single or double) or bare. Macros are not expanded here.
    """
    if not isinstance(rule, str) or not rule.strip():
        raise EmulatorError('profile rule (url) is empty')
    inner, url = _split_options(rule)
    options = {}
    if inner is not None:
        try:
            words = shlex.split(inner)
        except ValueError as exc:
            raise EmulatorError('profile rule options [%s]: %s' % (inner, exc))
        index = 0
        while index < len(words):
            word = words[index]
            if not word.startswith('--') or word[2:] not in RULE_OPTIONS:
                raise EmulatorError('profile rule option %r is not one the phone knows (%s)'
                                    % (word, ', '.join('--' + o for o in RULE_OPTIONS)))
            if index + 1 >= len(words):
                raise EmulatorError('profile rule option %s needs a value' % word)
            options[word[2:]] = words[index + 1]
            index += 2
    if not url:
        raise EmulatorError('profile rule %r has options but no URL' % (rule,))
    if ' ' in url:
        raise EmulatorError('profile rule URL %r contains a space' % (url,))
    return options, url


def parse_url(url):
    """``(scheme, host, port, path)`` of an http(s) URL; raises EmulatorError naming the problem."""
    if '://' not in url:
        raise EmulatorError('URL %r has no scheme: the phone would use TFTP; phone_check speaks http:// and '
                            'https:// only' % (url,))
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ('http', 'https'):
        raise EmulatorError('URL %r: scheme %s is not supported (http or https)' % (url, scheme))
    if not parts.hostname:
        raise EmulatorError('URL %r has no host' % (url,))
    try:
        port = parts.port
    except ValueError:
        raise EmulatorError('URL %r has an invalid port' % (url,))
    if port is None:
        port = 443 if scheme == 'https' else 80
    path = parts.path or '/'
    if parts.query:
        path += '?' + parts.query
    return scheme, parts.hostname, port, path


def _outside_quotes(text, start=0):
    """``(index, char)`` of every character of ``text`` from ``start`` that is not inside double or single quotes."""
    quote = None
    for index in range(start, len(text)):
        char = text[index]
        if quote:
            if char == quote:
                quote = None
        elif char in '"\'':
            quote = char
        else:
            yield index, char


def split_conditional_rule(rule):
    """A rule's condition and its alternatives: ``( expr )? url1 | url2`` -> ``('expr', 'url1', 'url2')``.

    Profile_Rule* and Upgrade_Rule take the guide's conditional form ``( expr )? rule``; after ``|``
    comes the rule used when the condition is false (Cisco's MPP upgrade example). A rule
    without a condition is ``(None, rule, None)``. The expression is evaluated by
    module_utils/rule_condition.py; each alternative is parsed by :func:`parse_profile_rule`.
    """
    if not isinstance(rule, str) or not rule.strip():
        raise EmulatorError('profile rule (url) is empty')
    text = rule.strip()
    if not text.startswith('('):
        return None, text, None
    depth = 0
    close = None
    for index, char in _outside_quotes(text):
        if char == '(':
            depth += 1
        elif char == ')':
            depth -= 1
            if depth == 0:
                close = index
                break
    rest = text[close + 1:].lstrip() if close is not None else ''
    if close is None or not rest.startswith('?'):
        raise EmulatorError('rule %r: a condition is written "( expr )? url"; the ")?" is missing' % (rule,))
    condition = text[1:close].strip()
    if not condition:
        raise EmulatorError('rule %r: the condition ( ) is empty' % (rule,))
    rest = rest[1:].strip()
    alternative = next((index for index, char in _outside_quotes(rest) if char == '|'), None)
    then_rule, else_rule = (rest, None) if alternative is None else (rest[:alternative].strip(), rest[alternative + 1:].strip() or None)
    if not then_rule:
        raise EmulatorError('rule %r has a condition but no URL' % (rule,))
    return condition, then_rule, else_rule


def url_scheme(url):
    """The scheme a phone would use for ``url``: ``tftp`` when it names none (the guide's default)."""
    if '://' not in url:
        return 'tftp'
    return urlsplit(url).scheme.lower()
