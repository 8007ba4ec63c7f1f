# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a Cisco MPP phone reacts to an HTTP status during resync (provisioning guide, table 3-1).

This is the one place the table lives; the ``http_behavior`` filter, ``phone_check``
and the documentation use it.

Behaviours:
  A         success: next resync after Resync_Periodic (plus Resync_Random_Delay)
  B         file not found or corrupt profile: retry after Resync_Error_Retry_Delay
  C         any other failure: retry after Resync_Error_Retry_Delay
  redirect  301/302: the phone repeats the GET at once at the new location
  auth      401/407: the phone repeats at once with credentials, at most twice, then C
"""

from __future__ import annotations

BEHAVIOR_A = 'A'
BEHAVIOR_B = 'B'
BEHAVIOR_C = 'C'
REDIRECT = 'redirect'
AUTH = 'auth'

REDIRECT_STATUSES = frozenset((301, 302))
AUTH_STATUSES = frozenset((401, 407))
MAX_AUTH_RETRIES = 2

# The parameter that sets when the phone tries again after each final behaviour.
NEXT_TRY_PARAMETER = {
    BEHAVIOR_A: 'Resync_Periodic',
    BEHAVIOR_B: 'Resync_Error_Retry_Delay',
    BEHAVIOR_C: 'Resync_Error_Retry_Delay',
}

_REASONS = {
    200: 'profile received',
    301: 'moved permanently: repeat the GET at the new location',
    302: 'found: repeat the GET at the new location',
    400: 'bad request',
    401: 'unauthorized: repeat with credentials',
    403: 'forbidden',
    404: 'file not found',
    407: 'proxy authentication required: repeat with credentials',
    500: 'internal server error',
    501: 'not implemented',
    502: 'bad gateway',
    503: 'service unavailable (overloaded or down for maintenance)',
    504: 'gateway timeout',
}


def _status_code(status):
    if isinstance(status, bool):
        raise ValueError('HTTP status must be an integer 100-599, got %r' % (status,))
    try:
        code = int(status)
    except (TypeError, ValueError):
        raise ValueError('HTTP status must be an integer 100-599, got %r' % (status,))
    if code < 100 or code > 599:
        raise ValueError('HTTP status must be an integer 100-599, got %r' % (status,))
    return code


def http_behavior(status, resync_fails_on_fnf=True):
    """Map an HTTP status to ``A``, ``B``, ``C``, ``redirect`` or ``auth`` as the phone does.

    ``resync_fails_on_fnf`` is the phone's Resync_Fails_On_FNF: when false, 404 counts as success (A).
    Statuses the table does not list (1xx, 2xx other than 200) are failures (C): the phone
    applies a profile only from a 200 response.
    """
    code = _status_code(status)
    if code == 200:
        return BEHAVIOR_A
    if code in REDIRECT_STATUSES:
        return REDIRECT
    if code in AUTH_STATUSES:
        return AUTH
    if code == 404:
        return BEHAVIOR_B if resync_fails_on_fnf else BEHAVIOR_A
    return BEHAVIOR_C


def status_reason(status):
    """A short human reason for a status, for reports."""
    code = _status_code(status)
    if code in _REASONS:
        return 'HTTP %d %s' % (code, _REASONS[code])
    family = {1: 'informational', 2: 'success other than 200', 3: 'redirection other than 301/302',
              4: 'client error', 5: 'server error'}[code // 100]
    return 'HTTP %d (%s)' % (code, family)


def next_try_parameter(behavior):
    """The profile parameter that sets the delay before the phone's next resync."""
    return NEXT_TRY_PARAMETER[behavior]
