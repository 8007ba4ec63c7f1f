# -*- coding: utf-8 -*-
"""resync_log's two readers and its rows: the same summary as one reader and as the dict form."""

from __future__ import annotations

import random

import pytest

from ansible_collections.phoneprov.mpp.plugins.module_utils import resync_log
from ansible_collections.phoneprov.mpp.plugins.module_utils.resync_log import PHONE_FIELDS, rows_to_dict, summarise

from test_resync_log import mpp_line, write

MACS = ['0a00000000%02x' % number for number in range(40)]
STATUSES = (200, 200, 200, 403, 404, 503)


def day_of_lines(rng, hours, seconds_from=0):
    """Lines of many phones over ``hours`` hours, with refusals, generic and unidentified lines."""
    lines = []
    for second in range(seconds_from, seconds_from + hours * 3600, 97):
        when = '2026-12-02T%02d:%02d:%02d+01:00' % (second // 3600, second // 60 % 60, second % 60)
        mac = rng.choice(MACS)
        kind = rng.random()
        if kind < 0.05:
            lines.append(mpp_line(when, mac='', generic=True, ua_mac=mac.upper(), status=403))
        elif kind < 0.08:
            lines.append(mpp_line(when, mac='', ua_mac='', requested='/', status=400, model=''))
        else:
            lines.append(mpp_line(when, mac=mac, status=rng.choice(STATUSES), firmware=rng.choice(('12.0.1', '12.0.2'))))
    return lines


@pytest.fixture
def rotated_log(tmp_path):
    """Oldest first: .3.gz, .2.gz, .1 (plain), the current file (plain)."""
    rng = random.Random(16)
    log = tmp_path / 'mpp-access.log'
    files = (('mpp-access.log.3.gz', True), ('mpp-access.log.2.gz', True), ('mpp-access.log.1', False), ('mpp-access.log', False))
    for number, (name, compress) in enumerate(files):
        write(tmp_path / name, day_of_lines(rng, 5, number * 5 * 3600), compress=compress)
    return log


@pytest.fixture
def split_always(monkeypatch):
    monkeypatch.setattr(resync_log, 'PARALLEL_MIN_BYTES', 0)


def test_two_readers_give_one_readers_summary(rotated_log, split_always):
    one = summarise(str(rotated_log), docroot=None, workers=1)
    two = summarise(str(rotated_log), docroot=None, workers=2)
    assert one['lines'] > 500 and len(one['phones']) == len(MACS)
    assert two == one


def test_a_single_plain_file_is_cut_at_a_line_end(tmp_path, split_always):
    log = write(tmp_path / 'mpp-access.log', day_of_lines(random.Random(3), 8))
    pieces = resync_log._halves([str(log)])
    assert pieces[0][-1][0] == pieces[1][0][0] == str(log)
    cut = pieces[0][-1][2]
    assert 0 < cut < log.stat().st_size and log.read_bytes()[cut - 1:cut] == b'\n'
    one = summarise(str(log), docroot=None, workers=1)
    two = summarise(str(log), docroot=None, workers=2)
    assert two == one
    assert two['files'] == [{'path': str(log), 'lines': one['lines'], 'bad_lines': 0, 'compressed': False}]


def test_small_logs_are_read_by_one_reader(rotated_log):
    pieces = resync_log._halves(sorted(str(path) for path in rotated_log.parent.iterdir()))
    assert pieces[1] == []


def test_an_error_in_the_second_reader_is_reported(rotated_log, split_always, monkeypatch):
    real_open = resync_log._open_range

    def vanished(path, start, end):
        if start:
            raise resync_log.ResyncLogError('access log %s: No such file or directory' % path)
        return real_open(path, start, end)

    monkeypatch.setattr(resync_log, '_open_range', vanished)
    with pytest.raises(resync_log.ResyncLogError, match='No such file'):
        summarise(str(rotated_log.with_name('mpp-access.log.1')), rotated=False, docroot=None, workers=2)


def test_rows_hold_the_dict_forms_facts(rotated_log, tmp_path):
    docroot = tmp_path / 'profiles'
    docroot.mkdir()
    for mac in MACS[:5]:
        (docroot / ('%s.xml' % mac)).write_text('<flat-profile/>\n')
    as_dict = summarise(str(rotated_log), docroot=str(docroot))
    as_rows = summarise(str(rotated_log), docroot=str(docroot), result_format='rows')
    assert 'phones' not in as_rows and 'profiles' not in as_rows
    assert as_rows['phone_fields'] == list(PHONE_FIELDS)
    assert isinstance(as_rows['phone_rows'], str) and isinstance(as_rows['profile_rows'], str)
    assert rows_to_dict(as_rows['phone_fields'], as_rows['phone_rows']) == as_dict['phones']
    assert rows_to_dict(as_rows['profile_fields'], as_rows['profile_rows']) == as_dict['profiles']
    rest = dict((key, value) for key, value in as_rows.items() if not key.startswith(('phone_', 'profile_')))
    assert rest == dict((key, value) for key, value in as_dict.items() if key not in ('phones', 'profiles'))


def test_rows_that_do_not_fit_their_fields_are_refused():
    with pytest.raises(ValueError, match='start with mac'):
        rows_to_dict(['count', 'mac'], '[[1, "0a0000000001"]]')
    with pytest.raises(ValueError, match='list of 2 values'):
        rows_to_dict(['mac', 'count'], '[["0a0000000001"]]')
    with pytest.raises(ValueError, match='rows must be a list'):
        rows_to_dict(['mac', 'count'], '{"0a0000000001": 1}')
    assert rows_to_dict(['mac', 'count'], '[]') == {}


def test_an_unknown_result_format_is_refused(rotated_log):
    with pytest.raises(resync_log.ResyncLogError, match='result_format must be one of dict, rows'):
        summarise(str(rotated_log), docroot=None, result_format='table')
