# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CN rule of Cisco MPP phones for provisioning server certificates.

This is the one place the rule lives; modules, filters and roles call it.

The subject CN holds the FQDN of the host that runs the provisioning server,
optionally followed by ``/`` and free text (``pv.telco.net/mailto:admin@telco.net``).
The phone resolves that FQDN and requires the server's address among the answers,
so the FQDN part must be a real DNS host name: LDH labels of 1-63 characters,
no leading or trailing hyphen, at least two labels, at most 253 characters,
a last label that is not all digits (which also rules out IPv4 addresses),
and no wildcard.
"""

from __future__ import annotations

import re

MAX_FQDN_LENGTH = 253
_LABEL = re.compile(r'^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$')


class CNError(ValueError):
    """A CN or FQDN that breaks the rule; the message names the reason."""


def fqdn_problem(name):
    """Return why ``name`` is not a host FQDN the phone can resolve, or None when it is."""
    if not isinstance(name, str):
        return 'must be a string, got %s' % type(name).__name__
    if name == '':
        return 'is empty'
    if len(name) > MAX_FQDN_LENGTH:
        return 'is %d characters long; an FQDN has at most %d' % (len(name), MAX_FQDN_LENGTH)
    if name.endswith('.'):
        return 'ends with a dot; write the FQDN without the trailing root dot'
    if ':' in name:
        return 'looks like an IPv6 address; the phone needs a DNS name it can resolve'
    labels = name.split('.')
    if len(labels) < 2:
        return 'is a single label; an FQDN has at least two (host.example.net)'
    for label in labels:
        if label == '':
            return 'has an empty label (two dots in a row)'
        if '*' in label:
            return 'contains a wildcard (%s); the phone needs one host name' % label
        if len(label) > 63:
            return 'has a label of %d characters (%s...); at most 63 are allowed' % (len(label), label[:20])
        if label.startswith('-') or label.endswith('-'):
            return 'has a label that starts or ends with a hyphen (%s)' % label
        if not _LABEL.match(label):
            bad = sorted(set(c for c in label if not (c.isascii() and (c.isalnum() or c == '-'))))
            return 'has a label with characters other than letters, digits and hyphens (%s in %s)' % (
                ''.join(bad), label)
    if labels[-1].isdigit():
        return 'ends in an all-numeric label (%s); an IP address is not an FQDN' % labels[-1]
    return None


def validate_fqdn(name):
    """Return ``name`` lower-cased when it is a valid FQDN, else raise CNError naming the problem."""
    problem = fqdn_problem(name)
    if problem:
        raise CNError('FQDN %r %s' % (name, problem))
    return name.lower()


def split_cn(common_name):
    """Split a CN into ``(fqdn, suffix)``; ``suffix`` is the text after ``/`` or None.

    Raises CNError naming the problem when the CN breaks the rule.
    """
    if not isinstance(common_name, str):
        raise CNError('CN must be a string, got %s' % type(common_name).__name__)
    if common_name.startswith('CN='):
        common_name = common_name[3:]
    fqdn, sep, suffix = common_name.partition('/')
    problem = fqdn_problem(fqdn)
    if problem:
        if fqdn == '' and common_name == '':
            raise CNError('CN is empty; it must hold the FQDN of the provisioning server')
        raise CNError('CN %r: the FQDN part %r %s' % (common_name, fqdn, problem))
    return fqdn.lower(), (suffix if sep else None)


def cn_fqdn(common_name):
    """The FQDN a phone resolves for this CN (lower-cased); raises CNError when invalid."""
    return split_cn(common_name)[0]


def cn_problem(common_name):
    """Why the CN breaks the rule, or None when it is valid."""
    try:
        split_cn(common_name)
    except CNError as exc:
        return str(exc)
    return None


def cn_valid(common_name):
    """True when a phone accepts this CN."""
    return cn_problem(common_name) is None
