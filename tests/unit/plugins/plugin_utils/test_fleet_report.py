# -*- coding: utf-8 -*-
"""The fleet report's states, counts, gate, JSON and Prometheus textfile (plugin_utils/fleet_report.py),
over resync_log results of the agreed shape."""

from __future__ import annotations

import json
import re

import pytest

from ansible_collections.phoneprov.mpp.plugins.module_utils.resync_log import PHONE_FIELDS, PROFILE_FIELDS
from ansible_collections.phoneprov.mpp.plugins.plugin_utils.fleet_report import (
    ReportError, build_report, epoch, gate, render_json, render_prometheus, summary_lines)

PUSH = epoch('2026-12-02T10:00:00Z') + 0.7  # profiles' mtime: a fraction of a second past 10:00:00


def seen(last_time, status=200, ok_time=None, count=3, model='CP-8841-3PCC', firmware='12.0.1', cert_kind='unique', **extra):
    entry = {'count': count, 'last_time': last_time, 'last_status': status, 'last_behavior': None, 'last_reason': None,
             'last_file': 'x.xml', 'last_ok_time': ok_time, 'last_ok_file': 'x.xml' if ok_time else None,
             'ok_count': 1 if ok_time else 0, 'model': model, 'firmware': firmware, 'cert_kind': cert_kind,
             'remote_addr': '127.0.0.5', 'tls': 'TLSv1.3', 'cipher': 'TLS_AES_128_GCM_SHA256'}
    entry.update(extra)
    return entry


def result(phones, profiles, statuses=None, per_hour=None, unidentified=None):
    return {'changed': False, 'phones': phones,
            'profiles': dict((ma, {'mtime': mtime, 'time': None, 'size': 100, 'etag': '"x"'}) for ma, mtime in profiles.items()),
            'unidentified': unidentified or {'count': 0, 'generic': 0, 'none': 0, 'statuses': {}},
            'per_hour': per_hour or {}, 'statuses': statuses or {'200': 1}, 'files': ['/var/log/nginx/mpp-access.log'],
            'lines': 10, 'bad_lines': 1, 'first_time': '2026-12-02T09:00:00Z', 'last_time': '2026-12-02T11:00:00Z'}


MA = ['000e08%06x' % n for n in range(10)]
FLEET = [{'mac': MA[0], 'model': 'CP-8841-3PCC', 'key': 'secret-key', 'lines': [{'password': 'sip-secret'}]},
         {'mac': MA[1].upper()}, {'mac': ':'.join(MA[2][i:i + 2] for i in range(0, 12, 2))}, {'mac': MA[3]},
         {'mac': MA[4]}, {'mac': MA[5]}, {'mac': MA[6]}]


@pytest.fixture
def report():
    one = result({
        MA[0]: seen('2026-12-02T10:05:00Z', ok_time='2026-12-02T10:05:00Z'),         # current on one
        MA[1]: seen('2026-12-02T09:59:00Z', ok_time='2026-12-02T09:59:00Z'),         # stale: before the push
        MA[2]: seen('2026-12-02T10:06:00Z', status=403, ok_time='2026-12-02T10:01:00Z'),  # failing, current profile
        MA[4]: seen('2026-12-02T10:00:00Z', ok_time='2026-12-02T10:00:00Z', firmware='11.3.7'),  # same second as the push
        'aa:bb:cc:00:00:01': seen('2026-12-02T10:07:00Z', status=403),                 # unknown
        MA[6]: seen('2026-12-02T10:02:00Z', cert_kind='generic'),                      # never got its profile
    }, dict((ma, PUSH) for ma in MA[:7]), statuses={'200': 5, '403': 2}, per_hour={'2026-12-02T10': 7},
        unidentified={'count': 2, 'generic': 1, 'none': 1, 'statuses': {'403': 2}})
    two = result({
        MA[1]: seen('2026-12-02T10:30:00Z', status=503, ok_time=None, firmware='12.0.2'),  # newest request: failing
        MA[0]: seen('2026-12-02T09:00:00Z', ok_time='2026-12-02T09:00:00Z'),
    }, {MA[0]: PUSH + 60, MA[1]: PUSH + 60}, statuses={'200': 1, '503': 1}, per_hour={'2026-12-02T10': 1, '2026-12-02T09': 1})
    return build_report(FLEET, {'one': one, 'two': two, 'down': None}, generated='2026-12-02T12:00:00Z')


def test_states_and_their_precedence(report):
    phones = report['phones']
    assert phones[MA[0]]['state'] == 'current' and phones[MA[0]]['server'] == 'one' and phones[MA[0]]['profile_current']
    # Newest request was on server two and got 503: failing, behaviour C with the status table's words.
    assert phones[MA[1]]['state'] == 'failing' and phones[MA[1]]['server'] == 'two'
    assert (phones[MA[1]]['last_status'], phones[MA[1]]['behavior']) == (503, 'C')
    assert phones[MA[1]]['reason'].startswith('HTTP 503 service unavailable') and phones[MA[1]]['next_try'] == 'Resync_Error_Retry_Delay'
    assert phones[MA[1]]['firmware'] == '12.0.2' and phones[MA[1]]['count'] == 6
    # Failing wins over a current profile; the entry still says it runs the current one.
    assert phones[MA[2]]['state'] == 'failing' and phones[MA[2]]['profile_current'] is True
    assert report['failing_with_current_profile'] == 1
    assert phones[MA[3]]['state'] == 'never_seen' and phones[MA[3]]['profile_time'] == '2026-12-02T10:00:00+00:00'
    # Fetched in the push's second: the log has whole seconds, so that counts as current.
    assert phones[MA[4]]['state'] == 'current'
    assert phones[MA[5]]['state'] == 'never_seen' and phones[MA[5]]['server'] is None
    # Seen, answered 200 (a shared file) but never its own profile: stale.
    assert phones[MA[6]]['state'] == 'stale' and phones[MA[6]]['last_ok_time'] is None
    assert phones['aabbcc000001']['state'] == 'unknown' and phones['aabbcc000001']['in_fleet'] is False
    assert report['counts'] == {'current': 2, 'stale': 1, 'failing': 2, 'never_seen': 2, 'unknown': 1}


def test_stale_when_the_profile_was_republished_after_the_fetch():
    fetched = seen('2026-12-02T10:05:00Z', ok_time='2026-12-02T10:05:00Z')
    republished = build_report([{'mac': MA[0]}], {'s': result({MA[0]: fetched}, {MA[0]: epoch('2026-12-02T10:05:01Z')})})
    assert republished['phones'][MA[0]]['state'] == 'stale'
    assert republished['phones'][MA[0]]['profile_time'] == '2026-12-02T10:05:01+00:00'
    removed = build_report([{'mac': MA[0]}], {'s': result({MA[0]: fetched}, {})})
    assert removed['phones'][MA[0]]['state'] == 'stale' and removed['phones'][MA[0]]['profile_time'] is None


def test_newest_good_fetch_is_judged_against_the_server_that_served_it():
    """Fetched on 'a' after a's push, a's copy is current even though 'b' was pushed later."""
    a = result({MA[0]: seen('2026-12-02T10:05:00Z', ok_time='2026-12-02T10:05:00Z')}, {MA[0]: PUSH})
    b = result({MA[0]: seen('2026-12-02T10:01:00Z', ok_time='2026-12-02T10:01:00Z')}, {MA[0]: PUSH + 3600})
    entry = build_report([{'mac': MA[0]}], {'a': a, 'b': b})['phones'][MA[0]]
    assert (entry['state'], entry['last_ok_server']) == ('current', 'a')


def test_counts_per_model_firmware_server_and_generic(report):
    assert report['by_model']['CP-8841-3PCC']['current'] == 2 and report['by_model']['unknown']['never_seen'] == 2
    assert report['by_firmware']['11.3.7'] == dict(current=1, stale=0, failing=0, never_seen=0, unknown=0, total=1)
    assert report['by_firmware']['12.0.2']['failing'] == 1
    assert sum(row['total'] for versions in report['firmware_by_model'].values() for row in versions.values()) == len(report['phones'])
    assert report['firmware_by_model']['CP-8841-3PCC']['11.3.7']['current'] == 1
    assert report['by_server']['one']['total'] == 5 and report['by_server']['two']['failing'] == 1
    assert report['generic'] == {'count': 1, 'macs': [MA[6]], 'unidentified_requests': 1}
    assert report['per_hour'] == {'2026-12-02T09': 1, '2026-12-02T10': 8}
    assert report['servers']['down'] == {'read': False}
    assert report['servers']['one']['requests'] == 7 and report['servers']['one']['phones_seen'] == 6
    assert report['push_time'] == '2026-12-02T10:01:00+00:00'


def test_report_holds_no_fleet_secrets(report):
    text = render_json(report) + render_prometheus(report) + '\n'.join(summary_lines(report))
    assert 'secret' not in text


def test_json_is_the_report(report):
    assert json.loads(render_json(report)) == json.loads(json.dumps(report))
    empty = build_report([], {})
    assert json.loads(render_json(empty))['phones'] == {}


def test_bad_input_is_named():
    with pytest.raises(ReportError, match=r'phone #2 .*invalid MAC'):
        build_report([{'mac': MA[0]}, {'mac': 'nope'}], {})
    with pytest.raises(ReportError, match='duplicate MAC 000e08000000'):
        build_report([{'mac': MA[0]}, {'mac': MA[0].upper()}], {})
    with pytest.raises(ReportError, match='server s: resync_log phones'):
        build_report([], {'s': result({'zz': seen('2026-12-02T10:00:00Z')}, {})})
    with pytest.raises(ReportError, match='not an ISO 8601 time'):
        build_report([], {'s': result({MA[0]: seen('yesterday')}, {})})
    with pytest.raises(ReportError, match='list of phone entries'):
        build_report({'mac': MA[0]}, {})


def test_failed_results_count_as_not_read():
    out = build_report([{'mac': MA[0]}], {'s': {'failed': True, 'msg': 'no log'}, 'u': {'unreachable': True, 'changed': False}, 'n': None})
    assert out['servers'] == {'s': {'read': False}, 'u': {'read': False}, 'n': {'read': False}}
    assert out['phones'][MA[0]]['state'] == 'never_seen'


@pytest.mark.parametrize('percent, after, now, evaluated, failed', [
    (None, 0, PUSH + 10, False, False),
    (50.0, 0, PUSH + 10, True, True),
    (60.0, 0, PUSH + 10, True, False),
    (10.0, 3600, PUSH + 60, False, False),     # too early after the push
    (10.0, 3600, PUSH + 3600 + 61, True, True),
])
def test_gate(report, percent, after, now, evaluated, failed):
    out = gate(dict(report, counts=dict(report['counts'], stale=2)), percent, after, now=now)  # 4 of 7 = 57.14 %
    assert (out['evaluated'], out['failed'], out['percent']) == (evaluated, failed, 57.14), out
    assert ('more than' in out['msg']) == failed


def test_gate_at_the_threshold_passes():
    out = gate({'fleet_size': 4, 'counts': {'failing': 1, 'stale': 0}, 'push_time': None, 'push_epoch': None}, 25.0)
    assert out['evaluated'] and not out['failed'] and out['percent'] == 25.0


def test_prometheus_textfile(report):
    text = render_prometheus(report)
    assert 'mpp_phones{state="current"} 2\n' in text and 'mpp_phones{state="unknown"} 1\n' in text
    assert 'mpp_server_requests_total{server="one"} 7\n' in text
    assert 'mpp_server_responses_total{server="two",status="503"} 1\n' in text
    assert 'mpp_server_log_read{server="down"} 0\n' in text and 'mpp_server_requests_total{server="down"}' not in text
    assert 'mpp_report_generated_timestamp_seconds 1796212800\n' in text
    sample = re.compile(r'^[a-z_]+(\{[a-z_]+="[^"\\\n]*"(,[a-z_]+="[^"\\\n]*")*\})? -?[0-9.e+]+$')
    for line in text.splitlines():
        assert line.startswith('# HELP ') or line.startswith('# TYPE ') or sample.match(line), line


def test_prometheus_label_escaping():
    out = build_report([], {'a"b\\c\nd': result({}, {})})
    assert 'mpp_server_requests_total{server="a\\"b\\\\c\\nd"} 1\n' in render_prometheus(out)


def test_summary_lines(report):
    lines = summary_lines(report)
    assert lines[0] == 'fleet 7 phones: current 2, stale 1, failing 2, never_seen 2, unknown 1'
    assert 'down: log not read' in lines
    assert any(line.startswith('failing %s on two: HTTP 503' % MA[1]) for line in lines)


def as_rows(one):
    """A result in resync_log's result_format=rows form, with the same facts."""
    phone_fields = list(PHONE_FIELDS)
    profile_fields = list(PROFILE_FIELDS)
    out = dict((key, value) for key, value in one.items() if key not in ('phones', 'profiles'))
    out['phone_fields'], out['profile_fields'] = phone_fields, profile_fields
    out['phone_rows'] = json.dumps([[ma] + [entry[name] for name in phone_fields[1:]] for ma, entry in one['phones'].items()])
    out['profile_rows'] = json.dumps([[ma] + [entry[name] for name in profile_fields[1:]] for ma, entry in one['profiles'].items()])
    return out


def test_rows_and_dicts_give_the_same_report():
    one = result({MA[0]: seen('2026-12-02T10:05:00Z', ok_time='2026-12-02T10:05:00Z'),
                  MA[1]: seen('2026-12-02T10:06:00Z', status=403)}, {MA[0]: PUSH, MA[1]: PUSH})
    from_dicts = build_report(FLEET, {'one': one}, generated='2026-12-02T12:00:00Z')
    from_rows = build_report(FLEET, {'one': as_rows(one)}, generated='2026-12-02T12:00:00Z')
    assert from_rows == from_dicts
    assert from_rows['phones'][MA[0]]['state'] == 'current' and from_rows['phones'][MA[1]]['state'] == 'failing'
    broken = as_rows(one)
    broken['phone_rows'] = '[["%s", 1]]' % MA[0]
    with pytest.raises(ReportError, match='server one: the resync_log rows do not read'):
        build_report(FLEET, {'one': broken}, generated='2026-12-02T12:00:00Z')
