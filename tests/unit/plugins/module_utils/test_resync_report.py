# -*- coding: utf-8 -*-
"""Unit tests for module_utils/resync_report: redaction, expectations and the fleet summary."""

from __future__ import annotations

import pytest

from ansible_collections.phoneprov.mpp.plugins.module_utils import resync_report as rr


def test_redact_and_filter():
    params = {'Password_1_': 'pw', 'User_ID_1_': '1001', 'GPP_B': 'k', 'IKM_HTTP_Encrypt_Content': 'x', 'Empty_Pwd': ''}
    assert rr.redact_parameters(params) == {'Password_1_': '********', 'User_ID_1_': '1001', 'GPP_B': '********',
                                            'IKM_HTTP_Encrypt_Content': '********', 'Empty_Pwd': ''}
    assert rr.redact_parameters(params, [], ['User_ID_1_', 'GPP_B']) == {'User_ID_1_': '1001', 'GPP_B': 'k'}


def test_summarize_groups_by_reason():
    results = [{'mac': 'a', 'behavior': 'A', 'reason': 'ok'}, {'mac': 'b', 'behavior': 'B', 'reason': '404'},
               {'mac': 'c', 'behavior': 'A', 'reason': 'ok'}]
    summary = rr.summarize(results)
    assert (summary['total'], summary['A'], summary['B'], summary['C']) == (3, 2, 1, 0)
    assert summary['by_reason'][0] == {'behavior': 'A', 'reason': 'ok', 'count': 2, 'macs': ['a', 'c']}
    assert summary['lines'] == ['A x2: ok (a, c)', 'B x1: 404 (b)']


@pytest.mark.parametrize('behavior, expect, ok', [
    ('A', 'A', True), ('B', 'A', False), ('C', 'any', True), (None, 'any', True), (None, 'A', False)])
def test_behaves_as_expected(behavior, expect, ok):
    assert rr.behaves_as_expected(behavior, expect) is ok


def _phone(mac, behavior, expect, reason='r'):
    return {'mac': mac, 'behavior': behavior, 'expect': expect, 'reason': reason,
            'ok': rr.behaves_as_expected(behavior, expect)}


def test_fleet_report_all_as_expected_has_no_message():
    results = [_phone('a', 'A', 'A'), _phone('b', 'B', 'B')]
    report, message = rr.fleet_report(results, 'all')
    assert message is None
    assert report['phones'] == results
    assert (report['summary']['total'], report['summary']['unexpected']) == (2, 0)


@pytest.mark.parametrize('return_phones, shown', [('all', 7), ('unexpected', 6), ('none', 0)])
def test_fleet_report_names_the_first_five_unexpected(return_phones, shown):
    results = [_phone('ok', 'A', 'A')] + [_phone('m%d' % index, 'B', 'A', 'HTTP 404 file not found') for index in range(6)]
    report, message = rr.fleet_report(results, return_phones)
    assert len(report['phones']) == shown
    assert report['summary']['unexpected'] == 6
    assert message.startswith('6 of 7 phones did not behave as expected (A 1, B 6, C 0): '
                              'm0: B (expected A) HTTP 404 file not found; m1: B')
    assert 'm4: B' in message and 'm5' not in message and message.endswith(' ...')


def test_not_checked_counts_as_unexpected():
    item = rr.not_checked('00:11', 'any', ValueError('invalid MAC address'))
    assert (item['behavior'], item['step'], item['ok'], item['reason']) == (None, 'input', False, 'not checked: invalid MAC address')
    report, message = rr.fleet_report([item], 'unexpected')
    assert report['phones'] == [item] and message.startswith('1 of 1 phones did not behave as expected (A 0, B 0, C 0): 00:11: None')
