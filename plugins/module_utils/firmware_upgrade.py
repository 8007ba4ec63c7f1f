# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``Upgrade_Rule`` as the phone follows it: would this phone start a firmware upgrade?

``Upgrade_Enable`` No means no upgrade. ``Upgrade_Rule`` has the Profile_Rule syntax and its
conditional form, ``( $SWVER ne sip88xx.12-0-1MPP )? https://prov.example.net/fw/$PN-12-0-1.loads``
(module_utils/rule_condition.py, ``$SWVER`` the emulated firmware): a false condition means the
phone is on that version already. Otherwise the file is fetched as the phone fetches it, over its
client certificate with every check of a resync (module_utils/phone_emulator.py), but as a ranged
GET of its first byte (``Range: bytes=0-0``): 200 or 206 means the download would start. A failed
fetch is retried after ``Upgrade_Error_Retry_Delay`` (module_utils/rule_schedule.py); whether the
phone then verifies and flashes the image is outside what an emulator can tell.
"""

from __future__ import annotations

import re

from ansible_collections.phoneprov.mpp.plugins.module_utils.http_behavior import BEHAVIOR_A
from ansible_collections.phoneprov.mpp.plugins.module_utils.phone_emulator import FETCH_FIRMWARE
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_rule import EmulatorError
from ansible_collections.phoneprov.mpp.plugins.module_utils.rule_condition import rule_scheme, select_rule
from ansible_collections.phoneprov.mpp.plugins.module_utils.rule_schedule import DEFAULTS, delay_for_attempt, parse_delays

FETCHED_SCHEMES = ('http', 'https')
DISABLED = ('no', 'false', '0')


def _size(content_range):
    """The file size from ``Content-Range: bytes 0-0/SIZE`` (or a Content-Length), None when unknown."""
    match = re.search(r'(\d+)\s*$', content_range or '')
    return int(match.group(1)) if match and '*' not in (content_range or '') else None


def check_upgrade(emulator, phone, settings, macros):
    """The upgrade report for the phone's ``settings`` (its parameters after the resync), or None without Upgrade_Rule.

    ``phone`` holds Emulator.resync keyword arguments; ``macros`` is ``(values, macro dict)`` of
    module_utils/rule_sequence.phone_macros.
    """
    rule = str(settings.get('Upgrade_Rule') or '').strip()
    if not rule:
        return None
    values, macro_dict = macros
    enabled = str(settings.get('Upgrade_Enable') or 'Yes').strip().lower() not in DISABLED
    retry_text = str(settings.get('Upgrade_Error_Retry_Delay') or '').strip() or DEFAULTS['Upgrade_Error_Retry_Delay']
    report = {'rule': rule, 'enabled': enabled, 'firmware': phone.get('firmware'), 'condition': None,
              'condition_true': None, 'url': None, 'status': None, 'behavior': None, 'not_fetched': None,
              'size': None, 'would_start': False, 'reason': None, 'retry_delays': [], 'next_retry': None}
    try:
        report['retry_delays'] = parse_delays(retry_text, 'Upgrade_Error_Retry_Delay')
        if not enabled:
            report['reason'] = 'Upgrade_Enable is %s: the phone does not upgrade' % settings.get('Upgrade_Enable')
            return report
        report['condition'], report['condition_true'], chosen = select_rule(rule, values)
        if chosen is None:
            report['reason'] = 'condition false for firmware %s: no upgrade' % phone.get('firmware')
            return report
        scheme = rule_scheme(chosen)
        if scheme not in FETCHED_SCHEMES:
            report['not_fetched'], report['would_start'] = scheme, None
            report['reason'] = '%s: the phone would download over %s; the emulator does not fetch it' % (scheme, scheme.upper())
            return report
        result = emulator.resync(chosen, **dict(phone, macros=macro_dict, fetch=FETCH_FIRMWARE, resync_fails_on_fnf=True))
    except EmulatorError as exc:
        report['reason'] = 'the phone cannot use this Upgrade_Rule: %s' % exc
        return report
    report['_secrets'] = result.get('_secrets', [])
    for field in ('url', 'status', 'behavior'):
        report[field] = result[field]
    report['would_start'] = result['behavior'] == BEHAVIOR_A
    if report['would_start']:
        report['size'] = _size(result.get('content_range'))
        report['reason'] = 'the upgrade would start: %s' % result['reason']
    else:
        report['next_retry'] = delay_for_attempt(report['retry_delays'], 1)
        report['reason'] = 'the download fails: %s; retried after Upgrade_Error_Retry_Delay' % result['reason']
    return report
