# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The phone_profiles action's fleet check: every entry resolved and checked before any work.

The rule is module_utils/phone_entry.py (MAC, duplicates, key, template) and the file name rule
module_utils/profile_filename.py; this resolves each entry on its own, so an entry whose value
fails to template (an undefined variable in a vaulted password, say) is named, and checks each
key's encoding and strength with module_utils/profile_codec.py (``weak_keys``: refuse or warn).
"""

from __future__ import annotations

from ansible.module_utils.common.text.converters import to_native
from ansible.utils.display import Display

from ansible_collections.phoneprov.mpp.plugins.module_utils.phone_entry import FleetCheck, PhoneEntryError, describe_phone
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_codec import MIN_KEY_BITS, ProfileCodecError, check_key, weak_key_problem
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_filename import FilenameError, parse_filename, profile_filename
from ansible_collections.phoneprov.mpp.plugins.plugin_utils.direct_render import plain_data

UNRESOLVED = 'unresolved'
MANIFEST_NAME = 'manifest_name'
WEAK_KEYS_HINT = '; weak_keys=warn (role variable mpp_profiles_weak_keys) publishes it with a warning'
WEAK_KEYS_LISTED = 10


def check_filename(pattern, manifest):
    """FilenameError unless ``pattern`` gives each phone one file nginx can serve, other than the manifest."""
    parse_filename(pattern)
    if pattern == manifest:
        raise FilenameError('filename %r is not a plain file name' % pattern)


def key_checker(encrypt, key_encoding, refuse_weak):
    """FleetCheck's ``key_check``: a key that does not decode, or a weak one when refused, raises."""
    def check(key):
        check_key(key, encrypt, key_encoding, refuse_weak=False)
        problem = weak_key_problem(key, encrypt, key_encoding) if refuse_weak else None
        if problem:
            raise ProfileCodecError(problem + WEAK_KEYS_HINT)
    return check


def warn_weak_keys(entries, args, warn):
    """With ``weak_keys=warn``: one warning naming the phones whose key is weak (never a key)."""
    encrypt, key_field = args['encrypt'], args['key_field']
    weak = [entry.mac for entry in entries if weak_key_problem(entry.phone[key_field], encrypt, args['key_encoding'])]
    if weak:
        more = ' and %d more' % (len(weak) - WEAK_KEYS_LISTED) if len(weak) > WEAK_KEYS_LISTED else ''
        warn('%d phones have a profile key under %d bits (weak_keys=warn): %s%s'
             % (len(weak), MIN_KEY_BITS, ', '.join(weak[:WEAK_KEYS_LISTED]), more))


def check_phones(phones, args, resolve_string, warn=None):
    """The list of PhoneEntry of the task's fleet, in fleet order; PhoneEntryError naming the
    first phone at fault (FilenameError for an unusable ``filename``).

    ``resolve_string(text)`` gives a fleet string as plain ``str`` (templated if it may be a
    template; None: the entries are plain builtin data already, as a fleet file without templates
    gives them, and are used as they are): only such strings are templated, handing the whole fleet to the templar would
    cost about 15 s per 100,000 phones even when, as usual, nothing in it is a template.
    ``warn(text)`` (default: Ansible's warning) reports weak keys when ``weak_keys`` is ``warn``.
    """
    pattern, manifest, encrypt = args['filename'], args['manifest'], args['encrypt']
    check_filename(pattern, manifest)
    key_encoding = args['key_encoding'] if encrypt == 'rfc8188' else 'utf-8'
    fleet = FleetCheck(lambda ma: profile_filename(pattern, ma), encrypt=encrypt, key_field=args['key_field'],
                       key_check=key_checker(encrypt, key_encoding, args.get('weak_keys', 'refuse') != 'warn'),
                       templates=args['templates'], default_template=args['template'])
    entries = []
    for index, phone in enumerate(phones):
        if resolve_string is not None:
            try:
                phone = plain_data(phone, resolve_string)
            except Exception as exc:  # pylint: disable=broad-except
                raise PhoneEntryError(UNRESOLVED, index, 'phone #%d: its entry does not resolve: %s' % (index + 1, to_native(exc)))
        entry = fleet.check(index, phone)
        if entry.filename == manifest:
            raise PhoneEntryError(MANIFEST_NAME, index, '%s: file name %s is the manifest\'s' % (describe_phone(index, phone), manifest))
        entries.append(entry)
    if encrypt != 'none' and args.get('weak_keys') == 'warn':
        warn_weak_keys(entries, dict(args, key_encoding=key_encoding), warn or Display().warning)
    return entries
