# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``--diff`` of phone_profiles, with secrets masked.

Profiles hold SIP passwords and the phone's own encryption key: in a diff, the value of every
parameter whose name contains ``password``, ``secret``, ``key`` or ``ikm`` (any case) is
replaced by ``********``, and so is the phone's key wherever else it appears.
"""

from __future__ import annotations

import base64
import difflib
import os
import re

from ansible.module_utils.common.text.converters import to_text

from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_codec import ProfileCodecError, decode_profile

MASK = '********'
_SECRET_ELEMENT = re.compile(r'(<([A-Za-z0-9_.-]*(?:password|secret|key|ikm)[A-Za-z0-9_.-]*)\b[^>]*>)([^<]*)(</\2>)',
                             re.IGNORECASE)
# Shorter keys are not masked where they appear in other text: they would mask half the profile.
MIN_MASKED_KEY = 3
LISTED_MACS = 20


def mask_secrets(text, key=None):
    """Profile text for a diff: secret-looking parameter values and the phone's key masked."""
    text = _SECRET_ELEMENT.sub(lambda m: m.group(1) + (MASK if m.group(3) else '') + m.group(4), text)
    if key and isinstance(key, str) and len(key) >= MIN_MASKED_KEY:
        text = text.replace(key, MASK)
    return text


def _old_text(encoded, key, key_encoding):
    try:
        old_plain, _info = decode_profile(base64.b64decode(encoded), key=key, key_encoding=key_encoding)
        return to_text(old_plain, errors='surrogate_or_replace')
    except (ProfileCodecError, ValueError) as exc:
        return '(previous content could not be decoded: %s)\n' % exc


def profile_diff(published, samples, old_contents, args, entries):
    """The task's diff: which phones were created, updated or removed, and a unified diff, with
    secrets masked, of the changed phones in ``samples`` (MAC -> new text); ``old_contents``
    (MAC -> base64 of the file before) comes from the module."""
    by_mac = dict((entry.mac, entry) for entry in entries)
    changed = set(published.get('created') or []) | set(published.get('updated') or [])
    lines = []
    for label in ('created', 'updated', 'removed'):
        macs = published.get(label) or []
        if macs:
            more = ' ... (%d more)' % (len(macs) - LISTED_MACS) if len(macs) > LISTED_MACS else ''
            lines.append('%s %d: %s%s\n' % (label, len(macs), ', '.join(macs[:LISTED_MACS]), more))
    for ma, new_text in samples.items():
        if ma not in changed:
            continue
        entry = by_mac.get(ma)
        key = entry.phone.get(args['key_field']) if entry and args['encrypt'] != 'none' else None
        old_text = _old_text(old_contents[ma], key, args['key_encoding']) if ma in old_contents else ''
        name = os.path.join(args['dest'], entry.filename if entry else ma)
        lines.extend(difflib.unified_diff(mask_secrets(old_text, key).splitlines(True), mask_secrets(new_text, key).splitlines(True),
                                          'before: %s' % name, 'after: %s' % name))
    return {'prepared': ''.join(line if line.endswith('\n') else line + '\n' for line in lines)}
