# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The phone's conditional expressions: the ``expr`` of ``( expr )? url`` in Profile_Rule* and Upgrade_Rule.

From the provisioning guides (docs/phone-facts.md): comparisons joined by ``and``; the operators
``=`` ``eq``, ``!=`` ``ne`` (legacy ``!``), ``<`` ``lt``, ``<=`` ``le``, ``>`` ``gt``, ``>=`` ``ge``;
operands are integers, version numbers or double-quoted strings (strings compare for equality
only); a comparison without a left operand compares ``$SWVER`` (legacy form ``! 1.0.33``).
Macros in operands are expanded by module_utils/profile_rule.py; a macro the emulator has no
value for is empty here (``"$EXTIP" ne ""``).

Versions: MPP firmware is ``sip88xx.v1-v2-v3MPP-BN``; the parts are compared left to right,
digits as numbers, then letters alphabetically; ``sip88xx.11-0-0MPP-BN > sip88xx.9-3-1-7MPP-BN``.
**Not verified**: ``or`` (the guides list only ``and``; here ``and`` binds tighter), that the
``sipNNxx.`` prefix is not compared, and dotted versions (``12.0.1``, the emulator's default
firmware, compares equal to ``sip88xx.12-0-1MPP``).
"""

from __future__ import annotations

import re

from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_rule import (
    EmulatorError, expand_macros, parse_profile_rule, split_conditional_rule, url_scheme)

OPERATORS = {'=': 'eq', '==': 'eq', 'eq': 'eq', '!=': 'ne', '!': 'ne', 'ne': 'ne', '<': 'lt', 'lt': 'lt',
             '<=': 'le', 'le': 'le', '>': 'gt', 'gt': 'gt', '>=': 'ge', 'ge': 'ge'}
_TOKEN = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|(<=|>=|!=|==|[=<>!])|([^\s"<>=!]+))')
_VERSION = re.compile(r'^(?:[A-Za-z][A-Za-z0-9_]*\.)?(?P<body>\d[^\s]*?)(?:MPP(?:-(?P<build>[A-Za-z0-9]+))?)?$')
_COMPARE = {'eq': lambda c: c == 0, 'ne': lambda c: c != 0, 'lt': lambda c: c < 0, 'le': lambda c: c <= 0,
            'gt': lambda c: c > 0, 'ge': lambda c: c >= 0}


class ConditionError(EmulatorError):
    """A condition the phone cannot evaluate (the guide's "format parsing error")."""


def version_key(text):
    """A sortable key of a firmware version (``sip88xx.12-0-1MPP-5``, ``11-0-0MPP``, ``12.0.1``, ``2.0.6(b)``)."""
    match = _VERSION.match(text or '')
    if not match:
        raise ConditionError('%r is not a version number (sip88xx.12-0-1MPP, 12.0.1 ...)' % (text,))
    parts = [part for part in re.split(r'[-.()]', match.group('body')) if part]
    if match.group('build'):
        parts.append(match.group('build'))
    key = []
    for part in parts:
        digits = re.match(r'\d*', part).group(0)
        key.append((int(digits) if digits else -1, part[len(digits):]))
    return key


def _tokens(expr):
    tokens = []
    position = 0
    text = expr.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ConditionError('condition %r: cannot read it from %r on' % (expr, text[position:]))
        position = match.end()
        if match.group(1) is not None:
            tokens.append(('str', match.group(1).replace('\\"', '"')))
        elif match.group(2) is not None:
            tokens.append(('op', OPERATORS[match.group(2)]))
        else:
            word = match.group(3)
            lower = word.lower()
            if lower in ('and', 'or'):
                tokens.append((lower, lower))
            elif lower in OPERATORS:
                tokens.append(('op', OPERATORS[lower]))
            else:
                tokens.append(('word', word))
    return tokens


def _operand(token, values, expr):
    kind, text = token
    if kind not in ('str', 'word'):
        raise ConditionError('condition %r: an operand is missing before or after %r' % (expr, text))
    value = expand_macros(text, values, 'condition')
    if kind == 'str':
        return 'str', value
    if re.match(r'^-?\d+$', value):
        return 'int', int(value)
    return 'version', value


def _compare(left, operator, right, expr):
    if 'str' in (left[0], right[0]):
        if left[0] != right[0]:
            raise ConditionError('condition %r: a quoted string compares only with a quoted string (%r, %r)'
                                 % (expr, left[1], right[1]))
        if operator not in ('eq', 'ne'):
            raise ConditionError('condition %r: quoted strings compare with eq or ne only, not %s' % (expr, operator))
        return (left[1] == right[1]) == (operator == 'eq')
    if left[0] == right[0] == 'int':
        diff = (left[1] > right[1]) - (left[1] < right[1])
    else:
        lkey, rkey = version_key(str(left[1])), version_key(str(right[1]))
        diff = (lkey > rkey) - (lkey < rkey)
    return _COMPARE[operator](diff)


def _comparison(tokens, index, values, expr):
    """One comparison from ``tokens[index]``; returns (truth, next index)."""
    if index < len(tokens) and tokens[index][0] == 'op':
        left = ('version', values.get('SWVER') or '')  # the legacy form without a left operand
    elif index + 1 < len(tokens):
        left = _operand(tokens[index], values, expr)
        index += 1
    else:
        raise ConditionError('condition %r ends before a comparison is complete' % (expr,))
    if index + 1 >= len(tokens) or tokens[index][0] != 'op':
        raise ConditionError('condition %r: a comparison needs an operator (eq ne lt le gt ge) and a right operand' % (expr,))
    operator = tokens[index][1]
    right = _operand(tokens[index + 1], values, expr)
    return _compare(left, operator, right, expr), index + 2


def evaluate_condition(expr, values):
    """True or False for ``expr`` with the macro table ``values`` (module_utils/profile_rule.macro_values).

    Raises ConditionError naming the problem when the phone could not evaluate it.
    """
    table = dict((name, '' if value is None else value) for name, value in values.items())
    tokens = _tokens(expr or '')
    if not tokens:
        raise ConditionError('the condition is empty')
    any_true = False
    all_true = True
    index = 0
    while True:
        truth, index = _comparison(tokens, index, table, expr)
        all_true = all_true and truth
        if index >= len(tokens) or tokens[index][0] == 'or':
            any_true = any_true or all_true
            all_true = True
            if index >= len(tokens):
                return any_true
        elif tokens[index][0] != 'and':
            raise ConditionError('condition %r: comparisons are joined by and (or or), not %r' % (expr, tokens[index][1]))
        index += 1
        if index >= len(tokens):
            raise ConditionError('condition %r ends with %s' % (expr, tokens[index - 1][1]))


def select_rule(rule, values):
    """``(condition, condition_true, chosen)`` for a Profile_Rule* or Upgrade_Rule value.

    ``chosen`` is the rule to run: the one after ``?`` when the condition holds, else the one after
    ``|`` or None (the phone skips the rule). Without a condition: ``(None, None, rule)``.
    """
    condition, then_rule, else_rule = split_conditional_rule(rule)
    if condition is None:
        return None, None, then_rule
    truth = evaluate_condition(condition, values)
    return condition, truth, then_rule if truth else else_rule


def rule_scheme(rule):
    """The scheme the phone would fetch a (condition-free) rule with: ``https``, ``http``, ``tftp`` ..."""
    return url_scheme(parse_profile_rule(rule)[1])
