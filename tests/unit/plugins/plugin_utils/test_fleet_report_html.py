# -*- coding: utf-8 -*-
"""The fleet report's page (plugin_utils/fleet_report_html.py) and files (plugin_utils/fleet_report_files.py)."""

from __future__ import annotations

import html.parser
import json
import os
import stat

from ansible_collections.phoneprov.mpp.plugins.plugin_utils.fleet_report import build_report, epoch
from ansible_collections.phoneprov.mpp.plugins.plugin_utils.fleet_report_files import (
    changed_files, counts_diff, plan_files, write_files)
from ansible_collections.phoneprov.mpp.plugins.plugin_utils.fleet_report_html import render_html

EVIL = '<script>alert(1)</script>"\'&'


def _results(phones=20, evil=False):
    seen = {}
    for n in range(phones):
        ok = n % 4 != 0
        seen['000e08%06x' % n] = {
            'count': 2, 'last_time': '2026-12-02T10:%02d:00Z' % (n % 60), 'last_status': 200 if ok else 403,
            'last_ok_time': '2026-12-02T10:%02d:00Z' % (n % 60) if ok else None, 'ok_count': int(ok),
            'model': EVIL if evil else 'CP-8841-3PCC', 'firmware': EVIL if evil and n == 1 else '12.0.%d' % (n % 3),
            'cert_kind': 'unique', 'remote_addr': '127.0.0.1', 'last_file': '/cfg/%s' % EVIL if evil else '/cfg/x.xml'}
    profiles = dict((ma, {'mtime': epoch('2026-12-02T10:00:00Z')}) for ma in seen)
    return {EVIL if evil else 'srv1': {'phones': seen, 'profiles': profiles, 'statuses': {'200': 15, '403': 5},
                                       'per_hour': {'2026-12-02T09': 3, '2026-12-02T10': 17}}}


class _Checker(html.parser.HTMLParser):
    """Collects the elements and text of a page (the stdlib's HTML parser: what a browser tokenises)."""

    def __init__(self):
        html.parser.HTMLParser.__init__(self)
        self.tags, self.text, self.attrs = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_data(self, data):
        self.text.append(data)


def _parse(page):
    checker = _Checker()
    checker.feed(page)
    return checker


def test_page_is_self_contained_with_the_counts_and_charts():
    report = build_report([{'mac': '000e08%06x' % n} for n in range(22)], _results(), generated='2026-12-02T12:00:00Z')
    page = render_html(report)
    parsed = _parse(page)
    assert 'script' not in parsed.tags and parsed.tags.count('svg') == 3
    # Nothing fetched from elsewhere: no src/href but the empty data: favicon, no url() in the CSS.
    assert [value for name, value in parsed.attrs if name in ('src', 'href')] == ['data:,']
    assert 'url(' not in page and '@import' not in page
    assert '<span class="n" id="count-current">15</span>' in page and '<span class="n" id="count-failing">5</span>' in page
    assert '<span class="n" id="count-never_seen">2</span>' in page
    assert 'Requests per hour' in page and '2026-12-02T10: 17' in page


def test_page_escapes_what_the_logs_say():
    report = build_report([{'mac': '000e08%06x' % n} for n in range(4)], _results(4, evil=True), generated='x')
    page = render_html(report)
    parsed = _parse(page)
    assert 'script' not in parsed.tags and EVIL not in page
    assert EVIL in ''.join(parsed.text)  # shown as text, in the tables and the charts' labels


def test_phones_table_is_capped_and_says_so():
    report = build_report([{'mac': '000e08%06x' % n} for n in range(20)], _results(), generated='x')
    page = render_html(report, max_phones=2)
    assert page.count('<td>000e08') == 2 and 'id="phones-capped">3 more phones not listed here' in page
    assert 'phones-capped' not in render_html(report, max_phones=5)
    results = _results(2)
    del results['srv1']['phones']['000e08000000']
    every = build_report([{'mac': '000e08000001'}], results, generated='x')
    assert 'Every phone of the fleet is current' in render_html(every)


def test_files_are_written_once_and_keep_generated(tmp_path):
    dest = str(tmp_path / 'reports')
    prom = str(tmp_path / 'mpp.prom')
    fleet = [{'mac': '000e08%06x' % n} for n in range(20)]
    files, previous = plan_files(build_report(fleet, _results()), dest, prom, now='2026-12-02T12:00:00Z')
    assert previous is None and len(changed_files(files)) == 3
    assert write_files(files, dest) == [os.path.join(dest, 'fleet-report.json'), os.path.join(dest, 'fleet-report.html'), prom]
    for path, _content in files:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o755
    # Same logs an hour later: same content, so the old generated time stays and nothing is written.
    again, previous = plan_files(build_report(fleet, _results()), dest, prom, now='2026-12-02T13:00:00Z')
    assert previous['generated'] == '2026-12-02T12:00:00Z' and changed_files(again) == [] and write_files(again, dest) == []
    # One more phone seen: a new report.
    results = _results()
    results['srv1']['phones']['000e08000000'].update(last_status=200, last_ok_time='2026-12-02T10:30:00Z')
    report = build_report(fleet, results)
    newer, previous = plan_files(report, dest, '', now='2026-12-02T14:00:00Z')
    assert len(changed_files(newer)) == 2 and report['generated'] == '2026-12-02T14:00:00Z'
    diff = counts_diff(previous, report)
    assert 'current: 15\n' in diff['before'] and 'current: 16\n' in diff['after']
    write_files(newer, dest)
    assert json.loads((tmp_path / 'reports' / 'fleet-report.json').read_text())['counts']['current'] == 16
    assert not [name for name in os.listdir(dest) if name.endswith('.tmp')]
