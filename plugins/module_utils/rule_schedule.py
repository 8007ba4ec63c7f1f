# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""When the phone tries again: its resync and upgrade timers as data, never as waits.

From the guides (docs/phone-facts.md): ``Resync_Periodic``, ``Resync_Error_Retry_Delay`` and
``Upgrade_Error_Retry_Delay`` take one delay in seconds or a comma-separated list whose last
element repeats for ever; ``N+R`` adds a random extra delay of up to ``R`` seconds
(``3600+600``). ``Resync_Periodic`` 0 turns periodic resync off, a retry delay 0 means no retry.
``Resync_At`` (the profile element ``Resync_At__HHmm_``) resyncs daily at HHmm, between that
time and ``Resync_At_Random_Delay`` seconds later (rounded up to minutes); when it is set,
``Resync_Periodic`` is ignored. **Not verified**: which time zone the phone's ``Resync_At`` uses
(``next`` here is in the local time of the machine running the emulator).
"""

from __future__ import annotations

import datetime
import re

from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_rule import EmulatorError

# The phone's defaults when neither the profile nor the phone's settings name a value.
DEFAULTS = {'Resync_Periodic': '3600', 'Resync_Error_Retry_Delay': '3600', 'Upgrade_Error_Retry_Delay': '3600',
            'Resync_At_Random_Delay': '600', 'Resync_Random_Delay': '2'}
RESYNC_AT_NAMES = ('Resync_At__HHmm_', 'Resync_At')
_DELAY = re.compile(r'^(\d+)(?:\+(\d+))?$')


def parse_delays(value, name='delay'):
    """``'1800,3600+600,7200'`` -> ``[{'delay': 1800, 'random': 0}, {'delay': 3600, 'random': 600}, ...]``."""
    text = re.sub(r'\s+', '', str(value if value is not None else ''))
    if not text:
        return []
    delays = []
    for element in text.split(','):
        match = _DELAY.match(element)
        if not match:
            raise EmulatorError('%s %r: each element is seconds, optionally +random seconds (3600 or 3600+600)'
                                % (name, value))
        delays.append({'delay': int(match.group(1)), 'random': int(match.group(2) or 0)})
    return delays


def delay_for_attempt(delays, attempt):
    """The delay before try ``attempt`` (1 = the first retry): the list's element, the last one repeating."""
    if not delays:
        return None
    return dict(delays[min(max(attempt, 1), len(delays)) - 1])


def _setting(settings, name):
    value = settings.get(name)
    if value is None or not str(value).strip():
        return DEFAULTS.get(name)
    return str(value).strip()


def resync_at(settings, now=None):
    """``Resync_At`` as data: ``{time, random_delay, window_minutes, next}``, or None when not set or invalid."""
    text = next((str(settings[name]).strip() for name in RESYNC_AT_NAMES if str(settings.get(name) or '').strip()), '')
    if not re.match(r'^\d{4}$', text) or int(text[:2]) > 24 or int(text[2:]) > 59 or (text[:2] == '24' and text[2:] != '00'):
        return None  # the guide: an invalid value is ignored
    random_text = _setting(settings, 'Resync_At_Random_Delay') or '0'
    random_delay = int(random_text) if random_text.isdigit() else int(DEFAULTS['Resync_At_Random_Delay'])
    now = now or datetime.datetime.now()
    hour = int(text[:2]) % 24
    start = now.replace(hour=hour, minute=int(text[2:]), second=0, microsecond=0)
    if start <= now:
        start += datetime.timedelta(days=1)
    return {'time': text, 'random_delay': random_delay, 'window_minutes': (random_delay + 30) // 60 if random_delay else 0,
            'next': start.strftime('%Y-%m-%dT%H:%M')}


def resync_schedule(settings, failed, attempt=1, now=None):
    """What the phone does next after a resync sequence that ``failed`` (or succeeded), from its ``settings``.

    ``retry_delays`` is the parsed ``Resync_Error_Retry_Delay``; ``next_retry`` the delay before the
    retry number ``attempt`` (None after success or when the delay is 0); ``next_periodic`` the
    ``Resync_Periodic`` delay after success (None when 0, after a failure, or when ``Resync_At`` rules).
    """
    retry_delays = parse_delays(_setting(settings, 'Resync_Error_Retry_Delay'), 'Resync_Error_Retry_Delay')
    periodic = parse_delays(_setting(settings, 'Resync_Periodic'), 'Resync_Periodic')
    at = resync_at(settings, now)
    next_retry = delay_for_attempt(retry_delays, attempt) if failed else None
    if next_retry is not None and next_retry['delay'] == 0:
        next_retry = None
    next_periodic = None
    if not failed and not at and periodic and periodic[0]['delay'] > 0:
        next_periodic = periodic[0]
    return {'failed': bool(failed), 'attempt': attempt, 'retry_delays': retry_delays, 'next_retry': next_retry,
            'next_periodic': next_periodic, 'resync_at': at,
            'resync_random_delay': _setting(settings, 'Resync_Random_Delay')}
