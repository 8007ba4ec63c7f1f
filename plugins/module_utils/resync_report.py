# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ``phone_check`` reports about resyncs: parameters filtered and redacted (the rule is
module_utils/redaction.py's), expectations, and the fleet summary grouped by behaviour and reason.

The resync itself is module_utils/phone_emulator.py; this file only shapes its result dicts.
"""

from __future__ import annotations

# The redaction rule is module_utils/redaction.py's (shared with phone_profiles' --diff);
# importable from here as before.
from ansible_collections.phoneprov.mpp.plugins.module_utils.redaction import DEFAULT_REDACT, REDACTED, redact_parameters

__all__ = ['DEFAULT_REDACT', 'REDACTED', 'redact_parameters', 'behaves_as_expected', 'not_checked', 'summarize', 'fleet_report']

# A fleet failure message names this many phones, then says "...".
MESSAGE_PHONES = 5


def behaves_as_expected(behavior, expect):
    """True when ``behavior`` (A, B, C or None) is what ``expect`` (A, B, C or any) asks for."""
    return expect == 'any' or behavior == expect


def not_checked(mac, expect, error):
    """The fleet result of a phone whose input is wrong (an invalid MAC, a missing file): no resync."""
    return {'mac': mac, 'behavior': None, 'reason': 'not checked: %s' % error, 'step': 'input',
            'expect': expect, 'ok': False, 'input_error': True}


def summarize(results):
    """Counts by behaviour and the phones grouped by (behaviour, reason), for fleet reports.

    ``by_reason``: largest group first, each with up to ten MACs; ``lines``: one readable line
    per group (``C x3: HTTP 403 forbidden (000e08000001, ...)``).
    """
    summary = {'total': len(results), 'A': 0, 'B': 0, 'C': 0, 'by_reason': []}
    groups = {}
    for item in results:
        behavior = item.get('behavior')
        if behavior in ('A', 'B', 'C'):
            summary[behavior] += 1
        group = groups.setdefault((behavior, item.get('reason')), [])
        group.append(item.get('mac'))
    summary['lines'] = []
    for (behavior, reason), macs in sorted(groups.items(), key=lambda kv: (-len(kv[1]), str(kv[0]))):
        summary['by_reason'].append({'behavior': behavior, 'reason': reason, 'count': len(macs), 'macs': macs[:10]})
        shown = ', '.join(macs[:3]) + (', ...' if len(macs) > 3 else '')
        summary['lines'].append('%s x%d: %s (%s)' % (behavior or '-', len(macs), reason, shown))
    return summary


def fleet_report(results, return_phones='all'):
    """``(report, message)`` of a fleet run: ``report`` holds ``phones`` (all, only the unexpected
    ones or none, by ``return_phones``) and ``summary`` (with ``unexpected``); ``message`` says
    which phones did not behave as expected, None when all did."""
    summary = summarize(results)
    bad = [item for item in results if not item['ok']]
    summary['unexpected'] = len(bad)
    shown = {'all': results, 'unexpected': bad, 'none': []}[return_phones]
    report = {'phones': shown, 'summary': summary}
    if not bad:
        return report, None
    detail = '; '.join('%s: %s (expected %s) %s' % (item['mac'], item['behavior'], item['expect'], item['reason'])
                       for item in bad[:MESSAGE_PHONES])
    message = ('%d of %d phones did not behave as expected (A %d, B %d, C %d): %s%s'
               % (len(bad), len(results), summary['A'], summary['B'], summary['C'], detail,
                  ' ...' if len(bad) > MESSAGE_PHONES else ''))
    return report, message
