# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``--diff`` of phone_profiles, with secrets masked.

Profiles hold SIP passwords, the admin password and the phone's own encryption key, and GitOps
pipelines print ``--diff`` into CI logs. Both sides of the diff go through the redaction rule
phone_check uses (module_utils/redaction.py, the task's ``redact`` patterns): the value of every
secret parameter is replaced by ``********`` (text, CDATA and attributes), and so is the phone's
key and each masked value wherever else it appears.
"""

from __future__ import annotations

import base64
import difflib
import os

from ansible.module_utils.common.text.converters import to_text

from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_codec import ProfileCodecError, decode_profile
from ansible_collections.phoneprov.mpp.plugins.module_utils.redaction import REDACTED, RedactionRule

MASK = REDACTED
LISTED_MACS = 20


def mask_secrets(text, key=None, patterns=None):
    """Profile text for a diff: secret parameters (``patterns``, default the shared rule's) and
    the phone's key masked."""
    return RedactionRule(patterns).redact_profile_text(text, secrets=(key,) if key else ())


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
    rule = RedactionRule(args.get('redact'))
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
        # Both sides at once: a secret only one side holds as a secret is masked on the other too.
        masked_old, masked_new = rule.redact_profile_texts([old_text, new_text], (key,) if key else ())
        name = os.path.join(args['dest'], entry.filename if entry else ma)
        lines.extend(difflib.unified_diff(masked_old.splitlines(True), masked_new.splitlines(True),
                                          'before: %s' % name, 'after: %s' % name))
    return {'prepared': ''.join(line if line.endswith('\n') else line + '\n' for line in lines)}
