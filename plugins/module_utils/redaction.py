# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which profile parameters are secrets, and how they are hidden: one rule for every output.

Profiles carry SIP passwords, the admin password, per-phone profile keys (``GPP_*``) and RFC
8188 key material (``IKM_*``). A parameter is secret when its element name matches one of the
redaction patterns (shell patterns, case-insensitive; DEFAULT_REDACT unless the task sets its
own). phone_check masks the values of the parameters it returns (``redact_parameters``), the
phone_profiles push masks the profile text of its ``--diff`` (``redact_profile_text``): element
by element, CDATA and attribute values included, and each masked value wherever else it stands.
"""

from __future__ import annotations

import fnmatch
import re
from xml.sax.saxutils import escape

DEFAULT_REDACT = ('*Password*', '*Passwd*', '*Pwd*', '*Secret*', 'IKM_*', 'GPP_*')
REDACTED = '********'
# Shorter values are not masked where they appear in other text: they would mask half the profile.
MIN_SPREAD_SECRET = 3
# The user-access attribute of a parameter (na, ro, rw): no secret, and worth seeing in a diff.
VISIBLE_ATTRIBUTES = ('ua',)

# One markup token of a (possibly malformed) profile; everything between tokens is text. A tag's
# quoted attribute value may hold ``>`` but never ``<`` (XML allows none): a tag ends at the next
# ``<`` at the latest, so an unclosed quote cannot swallow the elements after it.
_TOKEN = re.compile(r'<!--.*?(?:-->|\Z)'
                    r'|<!\[CDATA\[(?P<cdata>.*?)(?P<cdata_end>\]\]>|\Z)'
                    r'|<[?!][^<>]*>?'
                    r'''|<(?P<end>/)?(?P<name>[^\s/<>]+)(?P<attrs>(?:"[^"<]*"|'[^'<]*'|[^<>])*?)(?P<empty>/?)(?P<close>>|(?=<)|\Z)''',
                    re.DOTALL)
# An attribute; an unclosed quote runs to the end of the tag (malformed text hides no secret).
_ATTRIBUTE = re.compile(r'''(?P<name>[^\s=/]+)(?P<eq>\s*=\s*)'''
                        r'''(?:(?P<quote>["'])(?P<value>.*?)(?P<endquote>(?P=quote)|\Z)|(?P<bare>[^\s"'>/]+))''', re.DOTALL)


class RedactionRule(object):
    """The redaction patterns of one task; ``patterns`` None means DEFAULT_REDACT, [] masks nothing."""

    def __init__(self, patterns=None):
        self.patterns = tuple(DEFAULT_REDACT if patterns is None else patterns)
        self._lowered = [str(pattern).lower() for pattern in self.patterns]
        self._known = {}

    def is_secret(self, name):
        """True when parameter ``name`` (an element name, a namespace prefix ignored) is a secret."""
        name = str(name).rpartition(':')[2]
        secret = self._known.get(name)
        if secret is None:
            lowered = name.lower()
            secret = self._known[name] = any(fnmatch.fnmatchcase(lowered, pattern) for pattern in self._lowered)
        return secret

    def redact_parameters(self, parameters, names=None):
        """The parameters (name -> value) with each secret's value masked (an empty one stays
        empty, to show it is unset); with ``names``, only those parameters."""
        wanted = set(names) if names else None
        out = {}
        for name, value in parameters.items():
            if wanted is not None and name not in wanted:
                continue
            out[name] = REDACTED if value and self.is_secret(name) else value
        return out

    def redact_profile_text(self, text, secrets=()):
        """Profile XML text (a whole profile or any part of one, well-formed or not) with the value
        of every secret element masked: its text and CDATA, its attributes but ``ua``, and any
        attribute named like a secret. Each masked value and each of ``secrets`` (the phone's
        key) of MIN_SPREAD_SECRET characters or more is masked wherever else it appears."""
        return self.redact_profile_texts([text], secrets)[0]

    def redact_profile_texts(self, texts, secrets=()):
        """Each of ``texts`` redacted as by redact_profile_text, the values masked in one masked
        in all (the two sides of a diff: a secret moved to another parameter stays hidden)."""
        spread = set()
        for secret in secrets:
            if isinstance(secret, str) and len(secret) >= MIN_SPREAD_SECRET:
                spread.update((secret, escape(secret), escape(secret, {'"': '&quot;'})))
        masked = [self._mask_elements(text, spread) for text in texts]
        # Longest first: a secret that contains a shorter one is masked whole.
        for secret in sorted(spread, key=len, reverse=True):
            masked = [text.replace(secret, REDACTED) for text in masked]
        return masked

    def _mask_elements(self, text, spread):
        """``text`` with the secret elements' values masked; each masked value added to ``spread``."""
        out, open_secrets, position = [], [], 0

        def mask(content):
            if not content.strip():
                return content  # an empty value stays visibly empty
            if len(content.strip()) >= MIN_SPREAD_SECRET:
                spread.add(content.strip())
            return REDACTED

        for token in _TOKEN.finditer(text):
            between = text[position:token.start()]
            out.append(mask(between) if any(open_secrets) else between)
            position = token.end()
            if token.group('cdata') is not None:
                content = token.group('cdata')
                out.append('<![CDATA[%s%s' % (mask(content) if any(open_secrets) else content, token.group('cdata_end')))
            elif token.group('name') is None:
                out.append(token.group(0))  # comment, declaration, processing instruction
            elif token.group('end'):
                if open_secrets:
                    open_secrets.pop()
                out.append(token.group(0))
            else:
                secret = self.is_secret(token.group('name'))
                out.append('<%s%s%s%s' % (token.group('name'), self._attributes(token.group('attrs'), secret, mask),
                                          token.group('empty'), token.group('close')))
                if not token.group('empty'):
                    open_secrets.append(secret)
        rest = text[position:]
        out.append(mask(rest) if any(open_secrets) else rest)
        return ''.join(out)

    def _attributes(self, attrs, element_secret, mask):
        def attribute(match):
            name = match.group('name')
            if not ((element_secret and name not in VISIBLE_ATTRIBUTES) or self.is_secret(name)):
                return match.group(0)
            if match.group('quote'):
                return '%s%s%s%s%s' % (name, match.group('eq'), match.group('quote'), mask(match.group('value')), match.group('endquote'))
            return '%s%s%s' % (name, match.group('eq'), mask(match.group('bare')))
        return _ATTRIBUTE.sub(attribute, attrs)


def redact_parameters(parameters, patterns=DEFAULT_REDACT, names=None):
    """Filter (``names``: keep only these) and redact (``patterns``, see RedactionRule) values."""
    return RedactionRule(patterns).redact_parameters(parameters, names)


def redact_profile_text(text, patterns=DEFAULT_REDACT, secrets=()):
    """``text`` with secrets masked (see RedactionRule.redact_profile_text)."""
    return RedactionRule(patterns).redact_profile_text(text, secrets)
