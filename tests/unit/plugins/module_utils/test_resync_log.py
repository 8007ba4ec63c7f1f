# -*- coding: utf-8 -*-
"""resync_log's backend over crafted lines in the exact mpp_json format the role's nginx writes."""

from __future__ import annotations

import gzip
import json
import os

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.phoneprov.mpp.plugins.modules import resync_log as resync_log_module
from ansible_collections.phoneprov.mpp.plugins.module_utils.resync_log import ResyncLogError, nginx_etag, summarise
from ansible_collections.phoneprov.mpp.plugins.module_utils.resync_log_lines import FIELDS, LineParser, log_files

OWN = '000e08abcdef'
OTHER = '00562b043615'
# The field order of log_format mpp_json (roles/provisioning_server/templates/http.conf.j2); bare values unquoted.
ORDER = ('time', 'remote_addr', 'mac', 'serial', 'cert_model', 'generic', 'model', 'firmware', 'ua_mac', 'ua_serial',
         'user_agent', 'method', 'file', 'request', 'status', 'bytes', 'request_time', 'client_verify', 'subject', 'tls', 'cipher')
BARE = ('generic', 'status', 'bytes', 'request_time')


def escape_json(text):
    """nginx's escape=json: quotes, backslashes and control characters escaped, other bytes as they are."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


def mpp_line(when='2026-12-02T01:00:00+00:00', mac=OWN, status=200, requested=None, generic=False, ua_mac=None,
             model='CP-8841-3PCC', firmware='12.0.1', extra=None, drop=(), **fields):
    """One line as nginx writes it; ``extra`` (name, raw JSON value, after field) inserts a field, ``drop`` omits fields."""
    ua_mac = (mac or OTHER).upper() if ua_mac is None else ua_mac
    requested = '/cfg/%s.xml' % (mac or OTHER) if requested is None else requested
    values = {
        'time': when, 'remote_addr': '192.0.2.10', 'mac': mac, 'serial': 'FCH1234ABCD', 'cert_model': model if mac else '',
        'generic': 'true' if generic else 'false', 'model': model, 'firmware': firmware, 'ua_mac': ua_mac, 'ua_serial': '',
        'user_agent': 'Cisco-%s/%s (%s)' % (model, firmware, ua_mac) if model else 'curl/8.5.0', 'method': 'GET',
        'file': requested, 'request': requested, 'status': str(status), 'bytes': '120', 'request_time': '0.001',
        'client_verify': 'SUCCESS', 'subject': 'ST=%s,L=FCH1234ABCD,OU=%s' % (mac, model) if mac else '',
        'tls': 'TLSv1.3', 'cipher': 'TLS_AES_256_GCM_SHA384',
    }
    values.update(fields)
    items = []
    for name in ORDER:
        if name not in drop:
            items.append('"%s":%s' % (name, values[name] if name in BARE else '"%s"' % escape_json(values[name])))
        if extra and extra[2] == name:
            items.append('"%s":%s' % extra[:2])
    return '{%s}\n' % ','.join(items)


def write(path, lines, compress=False, mtime=None):
    opener = gzip.open if compress else open
    with opener(str(path), 'wt', encoding='utf-8') as handle:
        handle.write(''.join(lines))
    if mtime is not None:
        os.utime(str(path), (mtime, mtime))
    return path


@pytest.fixture
def log(tmp_path):
    return tmp_path / 'mpp-access.log'


def test_one_phone_state(log):
    write(log, [mpp_line('2026-12-02T01:00:00+00:00'),
                mpp_line('2026-12-02T02:00:00+00:00', requested='/cfg/%s.xml' % OTHER, status=403, firmware='12.0.2',
                         remote_addr='192.0.2.11', tls='TLSv1.2', cipher='ECDHE-RSA-AES128-GCM-SHA256')])
    result = summarise(str(log), docroot=None)
    assert result['phones'] == {OWN: {
        'count': 2, 'last_time': '2026-12-02T02:00:00+00:00', 'last_status': 403, 'last_behavior': 'C',
        'last_reason': 'HTTP 403 forbidden', 'last_file': '/cfg/%s.xml' % OTHER,
        'last_ok_time': '2026-12-02T01:00:00+00:00', 'last_ok_file': '/cfg/%s.xml' % OWN, 'ok_count': 1,
        'model': 'CP-8841-3PCC', 'firmware': '12.0.2', 'cert_kind': 'unique', 'remote_addr': '192.0.2.11',
        'tls': 'TLSv1.2', 'cipher': 'ECDHE-RSA-AES128-GCM-SHA256'}}
    assert result['statuses'] == {'200': 1, '403': 1}
    assert result['per_hour'] == {'2026-12-02T01': 1, '2026-12-02T02': 1}
    assert (result['lines'], result['bad_lines'], result['profiles']) == (2, 0, None)
    assert (result['first_time'], result['last_time']) == ('2026-12-02T01:00:00+00:00', '2026-12-02T02:00:00+00:00')


def test_missing_profile_is_b_and_never_ok(log):
    write(log, [mpp_line(status=404), mpp_line('2026-12-02T01:00:05+00:00', status=503)])
    phone = summarise(str(log), docroot=None)['phones'][OWN]
    assert (phone['last_status'], phone['last_behavior'], phone['ok_count'], phone['last_ok_time']) == (503, 'C', 0, None)
    assert phone['last_reason'].startswith('HTTP 503 service unavailable')
    write(log, [mpp_line(status=404)])
    assert summarise(str(log), docroot=None)['phones'][OWN]['last_behavior'] == 'B'


def test_head_and_shared_files_are_no_profile_fetch(log):
    write(log, [mpp_line(method='HEAD'), mpp_line(requested='/shared/common.xml')])
    phone = summarise(str(log), docroot=None)['phones'][OWN]
    assert (phone['count'], phone['ok_count'], phone['last_file']) == (2, 0, '/shared/common.xml')


def test_rotated_files_oldest_first(log, tmp_path):
    write(tmp_path / 'mpp-access.log.3.gz', [mpp_line('2026-11-29T01:00:00+00:00', firmware='11.0')], compress=True)
    write(tmp_path / 'mpp-access.log.2.gz', [mpp_line('2026-11-30T01:00:00+00:00', firmware='11.1')], compress=True)
    write(tmp_path / 'mpp-access.log.10.gz', [mpp_line('2026-11-20T01:00:00+00:00', firmware='10.0')], compress=True)
    write(tmp_path / 'mpp-access.log.1', [mpp_line('2026-12-01T01:00:00+00:00', firmware='11.2')])
    write(log, [mpp_line('2026-12-02T01:00:00+00:00', status=404, firmware='12.0')])
    write(tmp_path / 'mpp-access.log.old', ['not a rotated file\n'])
    result = summarise(str(log), docroot=None)
    names = [os.path.basename(entry['path']) for entry in result['files']]
    assert names == ['mpp-access.log.10.gz', 'mpp-access.log.3.gz', 'mpp-access.log.2.gz', 'mpp-access.log.1', 'mpp-access.log']
    assert [entry['compressed'] for entry in result['files']] == [True, True, True, False, False]
    assert [entry['lines'] for entry in result['files']] == [1, 1, 1, 1, 1]
    phone = result['phones'][OWN]
    assert (phone['count'], phone['ok_count'], phone['firmware'], phone['last_status']) == (5, 4, '12.0', 404)
    assert phone['last_ok_time'] == '2026-12-01T01:00:00+00:00'
    assert result['first_time'] == '2026-11-20T01:00:00+00:00'
    only_current = summarise(str(log), rotated=False, docroot=None)
    assert [entry['path'] for entry in only_current['files']] == [str(log)]
    assert only_current['phones'][OWN]['last_ok_time'] is None


def test_the_latest_line_wins_whatever_the_file_order(log, tmp_path):
    # A rotated file with newer lines than the current one (copied back by hand): times decide, not files.
    write(tmp_path / 'mpp-access.log.1', [mpp_line('2026-12-02T05:00:00+00:00', status=404)])
    write(log, [mpp_line('2026-12-02T04:00:00+00:00')])
    phone = summarise(str(log), docroot=None)['phones'][OWN]
    assert (phone['last_status'], phone['last_time'], phone['last_ok_time']) == (404, '2026-12-02T05:00:00+00:00', '2026-12-02T04:00:00+00:00')


def test_only_the_current_log_or_only_rotated_ones(tmp_path):
    with pytest.raises(ResyncLogError, match='no access log at .*mpp-access.log'):
        summarise(str(tmp_path / 'mpp-access.log'), docroot=None)
    write(tmp_path / 'mpp-access.log.1', [mpp_line()])
    assert summarise(str(tmp_path / 'mpp-access.log'), docroot=None)['lines'] == 1
    with pytest.raises(ResyncLogError, match='no access log'):
        summarise(str(tmp_path / 'mpp-access.log'), rotated=False, docroot=None)


def test_time_zones_compare_in_utc(log):
    # 02:30+01:00 is 01:30 UTC, before 20:45-05:00 of the day before? No: 20:45-05:00 is 01:45 UTC.
    write(log, [mpp_line('2026-12-01T20:45:00-05:00', status=404), mpp_line('2026-12-02T02:30:00+01:00')])
    result = summarise(str(log), docroot=None)
    phone = result['phones'][OWN]
    assert (phone['last_time'], phone['last_status']) == ('2026-12-02T01:45:00+00:00', 404)
    assert phone['last_ok_time'] == '2026-12-02T01:30:00+00:00'
    assert result['per_hour'] == {'2026-12-02T01': 2}
    assert (result['first_time'], result['last_time']) == ('2026-12-02T01:30:00+00:00', '2026-12-02T01:45:00+00:00')


@pytest.mark.parametrize('since, counted', [
    ('2026-12-02T02:40:00+01:00', 1),   # 01:40 UTC: only the 01:45 line
    ('2026-12-02T01:40:00Z', 1),
    ('2026-12-02T01:40:00', 1),         # no offset: UTC
    (1796175600, 1),                    # 2026-12-02T01:40:00Z as epoch seconds
    ('1796175600', 1),
    ('2026-12-01', 2),
])
def test_since(log, since, counted):
    # mtime as nginx leaves it: the time of the last line (01:45 UTC) or later.
    write(log, [mpp_line('2026-12-01T20:45:00-05:00', status=404), mpp_line('2026-12-02T02:30:00+01:00')], mtime=1796175900)
    result = summarise(str(log), docroot=None, since=since)
    assert result['phones'][OWN]['count'] == counted
    assert (result['lines'], result['ignored_lines']) == (2, 2 - counted)


def test_since_skips_files_last_written_before_it(log, tmp_path):
    old = write(tmp_path / 'mpp-access.log.2.gz', [mpp_line('2026-11-01T01:00:00+00:00')], compress=True, mtime=1793494800)
    write(log, [mpp_line('2026-12-02T01:00:00+00:00')])
    result = summarise(str(log), docroot=None, since='2026-12-01T00:00:00Z')
    assert result['files'][0] == {'path': str(old), 'lines': 0, 'bad_lines': 0, 'skipped': 'older than since'}
    assert result['phones'][OWN]['count'] == 1


def test_bad_lines_are_counted_not_fatal(log):
    good = mpp_line()
    write(log, ['garbage\n', good[:len(good) // 2] + '\n', '[1, 2]\n', '\n', mpp_line(drop=('status',)),
                mpp_line(when='yesterday'), mpp_line(when='2026-13-02T01:00:00+00:00'), mpp_line(when='2026-12-02T01:61:00+00:00'),
                mpp_line(status='"200"'), good, good.rstrip('\n')])
    result = summarise(str(log), docroot=None)
    assert (result['lines'], result['bad_lines']) == (11, 8)
    assert result['files'][0]['bad_lines'] == 8
    assert result['phones'][OWN]['count'] == 2


def test_truncated_gzip_counts_what_it_holds(log, tmp_path):
    whole = write(tmp_path / 'whole.gz', [mpp_line('2026-12-01T01:00:%02d+00:00' % second) for second in range(60)] * 50, compress=True)
    data = whole.read_bytes()
    (tmp_path / 'mpp-access.log.2.gz').write_bytes(data[:len(data) * 2 // 3])
    write(log, [mpp_line('2026-12-02T01:00:00+00:00')])
    result = summarise(str(log), docroot=None)
    broken = result['files'][0]
    assert 'EOFError' in broken['error'] and 0 < broken['lines'] < 3000
    assert result['phones'][OWN]['count'] == result['lines'] - result['bad_lines']
    assert 'error' not in result['files'][1]


def test_certificate_kinds_and_unidentified(log):
    write(log, [
        # The generic certificate: no MAC from it, the User-Agent's names the phone.
        mpp_line(mac='', generic=True, ua_mac=OTHER.upper(), requested='/cfg/%s.xml' % OTHER, status=403),
        # No client certificate (nginx answers 400): the MAC of the requested file name.
        mpp_line(mac='', ua_mac='', model='', requested='/cfg/00:0E:08:AB:CD:EE.xml'.replace(':', ''), status=400,
                 client_verify='NONE'),
        # Nothing names a phone.
        mpp_line(mac='', generic=True, ua_mac='', requested='/', status=403),
        mpp_line(mac='', ua_mac='', model='', requested='/', status=400, client_verify='NONE'),
        mpp_line(mac='', ua_mac='', model='', requested='/favicon.ico', status=400, client_verify='NONE'),
    ])
    result = summarise(str(log), docroot=None)
    assert result['phones'][OTHER]['cert_kind'] == 'generic'
    assert (result['phones'][OTHER]['last_behavior'], result['phones'][OTHER]['model']) == ('C', 'CP-8841-3PCC')
    assert result['phones']['000e08abcdee']['cert_kind'] == 'none'
    assert result['phones']['000e08abcdee']['model'] is None
    assert result['unidentified'] == {'count': 3, 'generic': 1, 'none': 2, 'statuses': {'400': 2, '403': 1}}


def test_certificate_mac_before_user_agent_before_file_name(log):
    write(log, [mpp_line(mac=OWN.upper(), ua_mac=OTHER, requested='/cfg/000e08000001.xml', status=403),
                mpp_line(mac='', ua_mac='00:56:2b:04:36:16', requested='/cfg/000e08000001.xml', status=403)])
    phones = summarise(str(log), docroot=None)['phones']
    assert sorted(phones) == [OWN, '00562b043616']


def test_an_own_profile_in_the_file_name_rule_spelling(log):
    # $MAU.cfg: the phone asks for 000E08ABCDEF.cfg; nginx matches the hex digits in either case.
    write(log, [mpp_line(requested='/prov/000E08ABCDEF.cfg'), mpp_line('2026-12-02T01:00:01+00:00', requested='/prov/000e08abcdef.cfg', status=404),
                mpp_line('2026-12-02T01:00:02+00:00', requested='/cfg/000E08ABCDEF.xml', status=403)])
    phone = summarise(str(log), docroot=None, url_path='/prov/', profile_filename='$MAU.cfg')['phones'][OWN]
    assert (phone['ok_count'], phone['last_ok_file'], phone['count']) == (1, '/prov/000E08ABCDEF.cfg', 3)


def test_macs_restrict_the_phones_not_the_counts(log):
    write(log, [mpp_line(), mpp_line(mac=OTHER)])
    result = summarise(str(log), docroot=None, macs=['00:0E:08:AB:CD:EF'])
    assert list(result['phones']) == [OWN]
    assert result['statuses'] == {'200': 2}


def test_unknown_and_missing_fields_are_tolerated(log):
    write(log, [mpp_line(extra=('deny', '"serial"', 'cipher'), status=403),
                mpp_line('2026-12-02T01:00:01+00:00', extra=('deny', 'true', 'mac')),
                mpp_line('2026-12-02T01:00:02+00:00', drop=('tls', 'cipher', 'model', 'firmware'), status=404)])
    phone = summarise(str(log), docroot=None)['phones'][OWN]
    assert (phone['count'], phone['ok_count'], phone['last_status'], phone['tls'], phone['model']) == (3, 1, 404, '', 'CP-8841-3PCC')


@pytest.mark.parametrize('line', [
    mpp_line(),
    mpp_line(mac='', generic=True, status=403),
    mpp_line(user_agent='Cisco-CP-8841-3PCC/12.0.1 (000E08ABCDEF) "quoted" \\ back'),
    mpp_line(subject='CN=a\\,b,ST=%s' % OWN),
    mpp_line(user_agent='tab\there'),
    mpp_line(requested='/cfg/caf\u00e9.xml', status=404),
    mpp_line(extra=('deny', '"mac"', 'generic')),
    mpp_line(extra=('deny', '1', 'status')),
    mpp_line(drop=('ua_serial', 'subject')),
    mpp_line(drop=('cipher',)),
    mpp_line(user_agent='","file":"/cfg/%s.xml' % OTHER),
], ids=['role', 'generic', 'escaped-quote', 'escaped-comma', 'control', 'utf8', 'deny-text', 'deny-number', 'fewer',
        'no-cipher', 'injected'])
def test_fast_path_gives_what_json_gives(line):
    parser = LineParser()
    # Twice: the first line of a format is decoded by json.loads and teaches the layout, the second uses it.
    assert parser.fields(line) == parser.fields(line) == LineParser.decoded_fields(line)
    record = json.loads(line)
    assert parser.fields(line) == [record.get(name, '') if name not in ('generic',) else record.get(name) is True for name in FIELDS]


def test_fast_path_refuses_a_format_it_cannot_read():
    parser = LineParser()
    for line in (mpp_line(status='"200"'), mpp_line(generic=True, drop=('generic',)), mpp_line().replace('"generic":false', '"generic":null')):
        parser.fields(line)
        parser.fields(line)
    assert parser.fields(mpp_line().replace('"generic":false', '"generic":null')) == LineParser.decoded_fields(
        mpp_line().replace('"generic":false', '"generic":null'))
    cut = mpp_line()[:-3] + '\n'
    parser.fields(mpp_line())
    assert parser.fields(cut) is None


def test_profiles_publish_times_and_etags(log, tmp_path):
    write(log, [mpp_line()])
    docroot = tmp_path / 'profiles'
    docroot.mkdir()
    (docroot / ('%s.xml' % OWN)).write_text('<flat-profile/>\n')
    os.utime(str(docroot / ('%s.xml' % OWN)), (1796173473.25, 1796173473.25))
    (docroot / ('%s.xml' % OTHER)).write_text('x' * 4096)
    (docroot / '000E08ABCDEE.xml').write_text('upper case: not the file name $MA.xml gives')
    (docroot / 'README.txt').write_text('no profile')
    (docroot / '000e08abcdee.xml').mkdir()
    profiles = summarise(str(log), docroot=str(docroot))['profiles']
    assert sorted(profiles) == [OWN, OTHER]
    assert profiles[OWN] == {'mtime': 1796173473.25, 'time': '2026-12-02T01:04:33+00:00', 'size': 16, 'etag': '"6b0f6ea1-10"'}
    assert profiles[OTHER]['etag'] == nginx_etag(os.stat(str(docroot / ('%s.xml' % OTHER))).st_mtime, 4096)
    assert list(summarise(str(log), docroot=str(docroot), macs=[OTHER])['profiles']) == [OTHER]
    assert list(summarise(str(log), docroot=str(docroot), profile_filename='$MAU.xml')['profiles']) == ['000e08abcdee']


@pytest.mark.parametrize('options, message', [
    ({'url_path': 'cfg'}, 'url_path .* must start and end with /'),
    ({'profile_filename': 'phone.xml'}, 'profile_filename: .*exactly one MAC macro'),
    ({'since': 'last tuesday'}, "since 'last tuesday' is neither ISO 8601"),
    ({'since': True}, 'since must be'),
    ({'macs': ['00:0e']}, 'macs: invalid MAC address'),
    ({'docroot': '/nonexistent/profiles'}, 'docroot /nonexistent/profiles: no such directory'),
])
def test_bad_options(log, options, message):
    write(log, [mpp_line()])
    kwargs = {'docroot': None}
    kwargs.update(options)
    with pytest.raises(ResyncLogError, match=message):
        summarise(str(log), **kwargs)


def test_log_files_unreadable_directory(tmp_path):
    with pytest.raises(ResyncLogError, match='access log directory'):
        log_files(str(tmp_path / 'missing' / 'mpp-access.log'))


@pytest.mark.parametrize('docroot, profiles, failed', [
    (None, None, False), ('', None, False), ('$MPP_UNIT_DOCROOT', [OWN], False), (5, None, True)])
def test_the_module_main(log, tmp_path, capsys, monkeypatch, docroot, profiles, failed):
    write(log, [mpp_line()])
    (tmp_path / 'profiles').mkdir()
    (tmp_path / 'profiles' / ('%s.xml' % OWN)).write_text('<flat-profile/>\n')
    monkeypatch.setenv('MPP_UNIT_DOCROOT', str(tmp_path / 'profiles'))
    with patch_module_args({'path': str(log), 'docroot': docroot, '_ansible_check_mode': True}):
        with pytest.raises(SystemExit) as stop:
            resync_log_module.main()
    out = json.loads(capsys.readouterr().out)
    assert (stop.value.code != 0, out.get('failed', False), out['changed']) == (failed, failed, False)
    if failed:
        assert out['msg'] == 'docroot must be a directory path or null, got 5'
    else:
        assert list(out['phones']) == [OWN] and (out['profiles'] if profiles is None else list(out['profiles'])) == profiles
