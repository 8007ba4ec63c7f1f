# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The phone's whole resync: ``Profile_Rule``, ``Profile_Rule_B``, ``_C``, ``_D`` in order, then its timers and ``Upgrade_Rule``.

From the guides (docs/phone-facts.md): the rules run in order; a blank rule is passed over; when
one fails (behaviour B or C) the whole sequence is tried again after ``Resync_Error_Retry_Delay``
(module_utils/rule_schedule.py). A rule may be conditional, ``( expr )? url`` (module_utils/rule_condition.py):
a false condition skips it. A scheme the phone knows but the emulator does not fetch (``tftp``,
also a URL without a scheme) is reported as ``not_fetched``, neither success nor failure.

**Not verified** (documented in docs/phone-check.md): that the parameters of a profile just read
(a ``Profile_Rule_C`` it sets, ``GPP_B`` for a later ``--key $B``) already apply to the rules after
it in the same sequence (they do here), and whether the rules after a failed one still run
(``stop_on_failure``, default True: they do not).

Each fetch is one :meth:`Emulator.resync <phone_emulator.Emulator.resync>`. The first rule (the
caller's own ``Profile_Rule``) raises EmulatorError for bad input exactly as a single resync does;
a later rule a phone cannot use is reported with ``step`` ``input``.
"""

from __future__ import annotations

from ansible_collections.phoneprov.mpp.plugins.module_utils.firmware_upgrade import check_upgrade
from ansible_collections.phoneprov.mpp.plugins.module_utils.http_behavior import BEHAVIOR_A
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_rule import GPP_LETTERS, EmulatorError, macro_values
from ansible_collections.phoneprov.mpp.plugins.module_utils.rule_condition import rule_scheme, select_rule
from ansible_collections.phoneprov.mpp.plugins.module_utils.rule_schedule import resync_schedule

PROFILE_RULES = ('Profile_Rule', 'Profile_Rule_B', 'Profile_Rule_C', 'Profile_Rule_D')
FETCHED_SCHEMES = ('http', 'https')
# Options that hold for the task's own Profile_Rule only: a later rule brings its own --key/--uid/--pwd.
FIRST_RULE_ONLY = ('key', 'username', 'password')
RULE_FIELDS = ('url', 'status', 'behavior', 'reason', 'step', 'parameter_count', 'decoding')


def phone_macros(phone, settings):
    """The phone's macro table: its own values (module_utils/profile_rule.py) and the GPP_A..P it holds now."""
    macros = dict(phone.get('macros') or {})
    for letter in GPP_LETTERS:
        value = settings.get('GPP_' + letter)
        if value is not None:
            macros[letter] = value
    return macro_values(phone['mac'], phone.get('model'), phone.get('serial'), bool(phone.get('client_cert')),
                        phone.get('firmware'), macros), macros


def _entry(name, rule):
    return {'name': name, 'rule': rule, 'condition': None, 'condition_true': None, 'not_fetched': None,
            'url': None, 'status': None, 'behavior': None, 'reason': None, 'step': None, 'parameter_count': 0,
            'decoding': None}


def _run_rule(emulator, phone, entry, settings, strict):
    """Evaluate, then fetch one rule into ``entry``; returns the resync result when fetched, else None."""
    values, macros = phone_macros(phone, settings)
    try:
        entry['condition'], entry['condition_true'], chosen = select_rule(entry['rule'], values)
        if chosen is None:
            entry['step'], entry['reason'] = 'condition', 'condition false: the phone skips this rule'
            return None
        scheme = rule_scheme(chosen)
        if scheme not in FETCHED_SCHEMES and not strict:
            entry['step'], entry['not_fetched'] = 'not_fetched', scheme
            entry['reason'] = '%s: the phone fetches this rule over %s; the emulator does not (not a server failure)' % (
                scheme, scheme.upper())
            return None
        args = dict(phone, macros=macros)
        if not strict:
            for name in FIRST_RULE_ONLY:
                args.pop(name, None)
        result = emulator.resync(chosen, **args)
    except EmulatorError as exc:
        if strict:
            raise
        entry['step'], entry['reason'] = 'input', 'not checked: the phone cannot use this rule: %s' % exc
        return None
    for field in RULE_FIELDS:
        entry[field] = result.get(field)
    return result


def run_sequence(emulator, phone, rules, settings=None, stop_on_failure=True, attempt=1, upgrade=True, now=None):
    """The phone's resync sequence; returns ``{first, rules, sequence, schedule, upgrade, secrets}``.

    ``phone`` holds the keyword arguments of ``Emulator.resync`` (``mac``, ``model``, ``firmware``,
    ``client_cert`` ...); ``rules`` maps Profile_Rule.._D to the phone's rules before the resync
    (``Profile_Rule`` is the caller's and strict); ``settings`` the phone's other parameters
    (``Resync_Error_Retry_Delay``, ``Upgrade_Rule`` ...). ``first`` is the resync result of
    ``Profile_Rule`` (None when it was skipped), ``attempt`` which retry this run stands for.
    """
    state = dict(settings or {})
    state.update((name, value) for name, value in rules.items() if value is not None)
    entries, secrets, first = [], [], None
    failed = None
    for name in PROFILE_RULES:
        rule = str(state.get(name) or '').strip()
        if not rule:
            continue
        entry = _entry(name, rule)
        entries.append(entry)
        result = _run_rule(emulator, phone, entry, state, strict=name == PROFILE_RULES[0] and name in rules)
        if result is None:
            continue
        secrets.extend(result.pop('_secrets', ()))
        if name == PROFILE_RULES[0]:
            first = result
        if result['behavior'] == BEHAVIOR_A:
            state.update(result['parameters'])  # the phone applies the profile before its next rule
            continue
        failed = failed or entry
        if stop_on_failure:
            break
    fetched = [entry for entry in entries if entry['behavior'] is not None]
    if failed:
        sequence = {'behavior': failed['behavior'], 'failed_rule': failed['name'],
                    'reason': '%s: %s; the whole sequence is retried after Resync_Error_Retry_Delay'
                              % (failed['name'], failed['reason'])}
    elif fetched:
        sequence = {'behavior': BEHAVIOR_A, 'failed_rule': None, 'reason': '%d rule(s) fetched' % len(fetched)}
    else:
        sequence = {'behavior': None, 'failed_rule': None, 'reason': 'no rule was fetched'}
    sequence['rules_fetched'] = len(fetched)
    firmware = None
    if upgrade:
        firmware = check_upgrade(emulator, dict((k, v) for k, v in phone.items() if k not in FIRST_RULE_ONLY),
                                 state, phone_macros(phone, state))
        if firmware:
            secrets.extend(firmware.pop('_secrets', ()))
    return {'first': first, 'rules': entries, 'sequence': sequence, 'secrets': secrets, 'upgrade': firmware,
            'schedule': resync_schedule(state, failed is not None, attempt, now), 'state': state}
