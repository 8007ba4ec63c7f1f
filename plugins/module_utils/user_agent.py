# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The User-Agent rule: what a Cisco or Linksys device says about itself when it fetches a profile.

As real devices send it:

- MPP phones: ``Cisco-CP-8841-3PCC/11.0 (00562b043615)`` - model, firmware, MAC.
- MPP ATAs: ``Cisco/ATA191-MPP-11-1-0-MSR4 (FCH2443D9R4)`` - a *serial* in the brackets, not a MAC.
- SPA phones: ``Cisco/SPA508G-7.4.8a (0002FDFF2103)(CBT141400UK)`` - MAC, then serial;
  ``Cisco/SPA525G-7.4.4 (CBT141900G7)`` - serial only.
- Linksys units: ``Linksys/SPA-942-6.1.5(a) (88019FA42805)``.

The rule is data: :data:`FORMS` (model and firmware, first match wins) and the bracket regexes
(:data:`MAC_BRACKET`, :data:`SERIAL_BRACKETS`), in the regex syntax Python and PCRE share.
:func:`parse_user_agent` reads a User-Agent with them, :func:`nginx_user_agent_map` gives role
provisioning_server's ``map $http_user_agent`` entries from the same regexes (filter
``nginx_map``), and :func:`build_user_agent` writes what the emulator (phone_check) sends.
A bracket of twelve hex digits is the MAC, anything else the serial: a serial that is itself
twelve hex digits cannot be told from a MAC by the User-Agent alone.
"""

from __future__ import annotations

import re

from ansible_collections.phoneprov.mpp.plugins.module_utils.mac import MACError, mac_upper, normalize_mac

# (name, regex over the start of the User-Agent with groups model and firmware), in order.
FORMS = (
    ('mpp', r'^Cisco-(?P<model>[^/ ]+)/(?P<firmware>[^ ]+)'),
    # An ATA with MPP firmware: the firmware after "-MPP-" is written with dashes (11-1-0-MSR4).
    ('ata_mpp', r'^(?:Cisco|Linksys)/(?P<model>[^ /]+?-MPP)-(?P<firmware>[0-9][^ ]*)'),
    # SPA and Linksys: the model up to the first "-<digit>..." run that has no dash of its own.
    ('spa', r'^(?:Cisco|Linksys)/(?P<model>[^ /]+?)-(?P<firmware>[0-9][^ -]*)(?= |$)'),
)
HEX12 = '[0-9A-Fa-f]{12}'
MAC_BRACKET = r' \((?P<mac>%s)\)' % HEX12
# The serial: the second bracket after a MAC, or the only bracket when it holds no MAC.
SERIAL_BRACKETS = (
    r' \(%s\)\((?P<serial>[^()]+)\)' % HEX12,
    r' \((?!%s\))(?P<serial>[^()]+)\)' % HEX12,
)
FIELDS = ('model', 'firmware', 'mac', 'serial')
DEFAULT_FIRMWARE = '12.0.1'


def field_regexes(field):
    """The regexes (Python syntax) that give ``field`` of a User-Agent as their group ``field``, in order."""
    if field in ('model', 'firmware'):
        return [regex for _name, regex in FORMS]
    if field == 'mac':
        return [regex + MAC_BRACKET for _name, regex in FORMS]
    if field == 'serial':
        return [regex + bracket for _name, regex in FORMS for bracket in SERIAL_BRACKETS]
    raise ValueError('unknown User-Agent field %r, expected one of %s' % (field, ', '.join(FIELDS)))


_COMPILED = dict((field, [re.compile(regex) for regex in field_regexes(field)]) for field in FIELDS)


def parse_user_agent(text):
    """``{'model', 'firmware', 'mac', 'serial'}`` of a User-Agent (None for what it does not say).

    ``mac`` is the ``$MA`` form. A User-Agent of no known form gives all None.
    """
    out = dict((field, None) for field in FIELDS)
    if not isinstance(text, str):
        return out
    for field in FIELDS:
        for regex in _COMPILED[field]:
            match = regex.match(text)
            if match:
                out[field] = match.group(field)
                break
    if out['mac'] is not None:
        out['mac'] = normalize_mac(out['mac'])
    return out


def nginx_user_agent_map(field, capture):
    """``[(PCRE regex, value)]`` of the nginx ``map $http_user_agent`` giving ``field`` as the device wrote it.

    Only ``field`` is captured (as ``capture``): every named group of nginx is a variable of its own.
    """
    entries = []
    for regex in field_regexes(field):
        for other in FIELDS:
            regex = regex.replace('(?P<%s>' % other, '(?<%s>' % capture if other == field else '(?:')
        entries.append((regex, '$' + capture))
    return entries


def build_user_agent(model, firmware=DEFAULT_FIRMWARE, mac=None, serial=None):
    """The User-Agent a device of ``model`` sends (as :func:`parse_user_agent` reads it back).

    ``CP-...`` and other MPP phones: ``Cisco-<model>/<firmware> (<$MA>)``; ``...-MPP`` ATAs:
    ``Cisco/<model>-<firmware> (<serial>)``; ``SPA...``: ``Cisco/<model>-<firmware> (<$MAU>)(<serial>)``.
    """
    model, firmware = str(model), str(firmware)
    try:
        if model.upper().endswith('-MPP'):
            return 'Cisco/%s-%s (%s)' % (model, firmware, serial or mac_upper(mac))
        if model.upper().startswith('SPA'):
            return 'Cisco/%s-%s (%s)%s' % (model, firmware, mac_upper(mac), '(%s)' % serial if serial else '')
        return 'Cisco-%s/%s (%s)' % (model, firmware, normalize_mac(mac))
    except MACError as exc:
        raise ValueError('User-Agent of %s: %s' % (model, exc))
