# -*- coding: utf-8 -*-
"""phoneprov.mpp.resync_log over the access log the real nginx of role provisioning_server wrote.

One deployment on the system nginx (under the shared lock): phones fetch with curl and their
client certificates (their own profile: 200; another phone's file: 403; a profile not
published: 404; the generic certificate; no certificate at all), the log rotated between them
as logrotate does it (copied to ``.1`` and emptied, the older file gzipped to ``.2.gz``); then
the module runs through ansible-playbook and each phone's summary, the rotated files and the
profile's ETag (against the header nginx sent) are checked.
"""

from __future__ import annotations

import datetime
import gzip
import json
import os
import shutil

import pytest

from mpp_harness import playbook_text, run_playbook
from provisioning_server_helpers import DEFAULT_PHONES, running_server

OWN = DEFAULT_PHONES[0]['mac']      # 000e08abcdef, CP-8841-3PCC
OTHER = DEFAULT_PHONES[1]['mac']    # 00562b043615, CP-7841-3PCC: no profile published
GENERIC_UA_MAC = '0002FDFF2103'
PROFILE = '<flat-profile><Resync_Periodic>3600</Resync_Periodic></flat-profile>\n'
TASK = 'Summarise the access log'


def _rotate(log, gzip_previous=False):
    """logrotate with copytruncate and delaycompress: .1 becomes .2.gz, the log is copied to .1 and emptied.

    (nginx opens its log with O_APPEND: its next line starts the emptied file.)
    """
    if gzip_previous:
        with open(log + '.1', 'rb') as source, gzip.open(log + '.2.gz', 'wb') as target:
            shutil.copyfileobj(source, target)
        os.unlink(log + '.1')
    shutil.copyfile(log, log + '.1')
    os.truncate(log, 0)


@pytest.fixture(scope='module')
def resyncs(tmp_path_factory):
    """The requests made, the log lines nginx wrote for them, and the module's results."""
    workdir = tmp_path_factory.mktemp('resync-log')
    with running_server(workdir / 'server', profiles={OWN: PROFILE}) as server:
        log = str(server.access_log)
        own_ua = 'Cisco-CP-8841-3PCC/12.0.1 (%s)' % OWN.upper()
        answers = {'own': server.curl('/cfg/%s.xml' % OWN, client=OWN, user_agent=own_ua)}
        _rotate(log)
        answers['other_file'] = server.curl('/cfg/%s.xml' % OTHER, client=OWN, user_agent=own_ua)
        _rotate(log, gzip_previous=True)
        answers['missing'] = server.curl('/cfg/%s.xml' % OTHER, client=OTHER, user_agent='Cisco-CP-7841-3PCC/11.3.7 (%s)' % OTHER.upper())
        answers['generic'] = server.curl('/cfg/%s.xml' % OWN, client='generic', user_agent='Cisco/SPA508G-7.4.8a (%s)(CBT141400UK)' % GENERIC_UA_MAC)
        answers['no_cert'] = server.curl('/', client=None, user_agent='curl/8')
        with gzip.open(log + '.2.gz', 'rt') as oldest, open(log + '.1') as middle, open(log) as current:
            lines = [json.loads(line) for handle in (oldest, middle, current) for line in handle]
        tasks = [
            {'name': TASK, 'phoneprov.mpp.resync_log': {'path': log, 'docroot': str(server.docroot)}},
            {'name': 'The same in check mode, two phones', 'check_mode': True,
             'phoneprov.mpp.resync_log': {'path': log, 'docroot': str(server.docroot), 'macs': [OTHER.upper(), OWN]}},
            {'name': 'The current file only, no docroot', 'phoneprov.mpp.resync_log': {'path': log, 'rotated': False, 'docroot': None}},
        ]
        result = run_playbook(workdir / 'run', playbook_text(tasks, name='resync_log under test'))
        assert result.rc == 0, result.stdout[-4000:]
        yield {'answers': answers, 'lines': lines, 'log': log, 'result': result}


def test_requests_answered_as_planned(resyncs):
    statuses = dict((name, answer.status) for name, answer in resyncs['answers'].items())
    assert statuses == {'own': 200, 'other_file': 403, 'missing': 404, 'generic': 403, 'no_cert': 400}
    assert len(resyncs['lines']) == 5


def test_each_phone_summarised(resyncs):
    out = resyncs['result'].task(TASK)
    assert out['changed'] is False
    lines = resyncs['lines']
    own = out['phones'][OWN]
    assert (own['count'], own['ok_count'], own['last_status'], own['last_behavior']) == (2, 1, 403, 'C')
    assert (own['last_file'], own['last_ok_file']) == ('/cfg/%s.xml' % OTHER, '/cfg/%s.xml' % OWN)
    assert own['last_reason'] == 'HTTP 403 forbidden'
    assert (own['model'], own['firmware'], own['cert_kind'], own['remote_addr']) == ('CP-8841-3PCC', '12.0.1', 'unique', '127.0.0.1')
    assert (own['tls'], own['cipher']) == (lines[1]['tls'], lines[1]['cipher']) and own['tls'].startswith('TLSv1.')
    assert own['last_ok_time'][:19] <= own['last_time'][:19]
    other = out['phones'][OTHER]
    assert (other['count'], other['ok_count'], other['last_status'], other['last_behavior']) == (1, 0, 404, 'B')
    assert (other['last_ok_time'], other['model'], other['firmware'], other['cert_kind']) == (None, 'CP-7841-3PCC', '11.3.7', 'unique')
    generic = out['phones'][GENERIC_UA_MAC.lower()]
    assert (generic['cert_kind'], generic['last_status'], generic['model']) == ('generic', 403, 'SPA508G')
    assert sorted(out['phones']) == sorted([OWN, OTHER, GENERIC_UA_MAC.lower()])
    assert out['unidentified'] == {'count': 1, 'generic': 0, 'none': 1, 'statuses': {'400': 1}}
    assert out['statuses'] == {'200': 1, '400': 1, '403': 2, '404': 1}
    assert sum(out['per_hour'].values()) == 5 and (out['lines'], out['bad_lines']) == (5, 0)


def test_times_are_those_of_the_log_in_utc(resyncs):
    out = resyncs['result'].task(TASK)
    lines = resyncs['lines']

    def utc(text):
        # $time_iso8601 with the server's offset, as the module returns it: in UTC.
        return datetime.datetime.fromisoformat(text).astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S+00:00')
    assert out['phones'][OWN]['last_ok_time'] == utc(lines[0]['time'])
    assert out['phones'][OWN]['last_time'] == utc(lines[1]['time'])
    assert (out['first_time'], out['last_time']) == (utc(lines[0]['time']), utc(lines[-1]['time']))


def test_rotated_files_in_age_order(resyncs):
    out = resyncs['result'].task(TASK)
    log = resyncs['log']
    assert [(entry['path'], entry['lines'], entry['compressed']) for entry in out['files']] == [
        (log + '.2.gz', 1, True), (log + '.1', 1, False), (log, 3, False)]
    current = resyncs['result'].task('The current file only, no docroot')
    assert [entry['path'] for entry in current['files']] == [log]
    assert current['profiles'] is None
    assert sorted(current['phones']) == sorted([OTHER, GENERIC_UA_MAC.lower()]) and current['lines'] == 3


def test_profile_etag_is_the_one_nginx_sent(resyncs):
    out = resyncs['result'].task(TASK)
    assert list(out['profiles']) == [OWN]
    assert out['profiles'][OWN]['etag'] == resyncs['answers']['own'].headers['etag']
    assert out['profiles'][OWN]['size'] == len(PROFILE)


def test_check_mode_and_macs(resyncs):
    out = resyncs['result'].task('The same in check mode, two phones')
    assert out['changed'] is False
    assert sorted(out['phones']) == sorted([OWN, OTHER])
    assert out['phones'] == dict((mac, value) for mac, value in resyncs['result'].task(TASK)['phones'].items() if mac in (OWN, OTHER))
