# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A provisioning server's access log summarised per phone: the backend of module ``resync_log``.

Role ``provisioning_server`` logs every request as one JSON object per line (nginx log format
``mpp_json``: time, remote_addr, mac, generic, model, firmware, ua_mac, method, file, status,
tls, cipher and more). This module streams the log and its rotated files (``.1``, ``.N.gz``,
oldest first) and keeps one small record per MAC, so that memory grows with the number of
phones, never with the number of lines.

Which phone a line belongs to: the MAC the certificate names (``mac``, by the site's identity
rule), else the MAC of the User-Agent (``ua_mac``), else the MAC in the requested profile file
name (the file name rule of profile_filename.py). The status's meaning for the phone comes from
http_behavior.py. Times are nginx's ``$time_iso8601`` with the server's UTC offset: compared
as UTC epoch seconds, returned as ISO 8601 in UTC.
"""

from __future__ import annotations

import os
import time

from ansible_collections.phoneprov.mpp.plugins.module_utils.http_behavior import http_behavior, status_reason
from ansible_collections.phoneprov.mpp.plugins.module_utils.mac import MACError, normalize_mac
from ansible_collections.phoneprov.mpp.plugins.module_utils.resync_log_lines import (
    LineParser, ProfileNames, ResyncLogError, iso_utc, log_files, open_log, parse_time)

DEFAULT_PATH = '/var/log/nginx/mpp-access.log'
DEFAULT_DOCROOT = '/srv/mpp/profiles'
DEFAULT_URL_PATH = '/cfg/'

# One phone's record: a list (smaller and faster than a dict for 100,000 phones).
(COUNT, LAST_EPOCH, LAST_STATUS, LAST_FILE, OK_EPOCH, OK_FILE, OK_COUNT, MODEL, FIRMWARE,
 CERT_KIND, REMOTE_ADDR, TLS, CIPHER) = range(13)
_NEVER = float('-inf')


def _new_phone():
    return [0, _NEVER, None, None, _NEVER, None, 0, None, None, None, None, None, None]


class LogSummary(object):
    """Everything the lines say, by MAC; fed one file at a time (:meth:`read`)."""

    def __init__(self, names, since=None, macs=None):
        self.names = names
        self.since = _NEVER if since is None else since
        self.wanted = None if macs is None else frozenset(macs)
        self.phones = {}
        self.unidentified = {'count': 0, 'generic': 0, 'none': 0, 'statuses': {}}
        self.statuses = {}
        self.hours = {}
        self.files = []
        self.lines = 0
        self.bad_lines = 0
        self.ignored_lines = 0
        self.first_epoch = None
        self.last_epoch = None
        self._partial_lines = 0
        self._macs = {}
        self._parser = LineParser()

    def _mac(self, raw):
        """``$MA`` of a MAC as the log spells it (cached: each phone spells it the same way every time)."""
        try:
            return self._macs[raw]
        except KeyError:
            pass
        try:
            mac = normalize_mac(raw)
        except MACError:
            return None
        if len(self._macs) < 1000000:
            self._macs[raw] = mac
        return mac

    def read(self, path):
        """Add every line of ``path`` (plain or gzip); the file's entry is appended to ``files``."""
        entry = {'path': path, 'lines': 0, 'bad_lines': 0, 'compressed': False}
        self.files.append(entry)
        bad_before = self.bad_lines
        try:
            handle, entry['compressed'] = open_log(path)
            with handle:
                entry['lines'] = self._read_lines(handle)
        except (OSError, EOFError, ValueError) as exc:
            # A truncated or corrupt rotated file: what was read counts, the rest is reported.
            entry['error'] = '%s: %s' % (type(exc).__name__, exc)
            entry['lines'] = self._partial_lines
        entry['bad_lines'] = self.bad_lines - bad_before
        return entry

    def _read_lines(self, handle):
        # The loop runs once per line (a million a day): names bound locally, work kept minimal.
        parse, epoch_of, mac_of, file_mac = self._parser.fields, self._parser.epoch, self._mac, self.names.file_mac
        phones, statuses, hours, unidentified = self.phones, self.statuses, self.hours, self.unidentified
        since, wanted = self.since, self.wanted
        count = 0
        self._partial_lines = 0
        for line in handle:
            count += 1
            self._partial_lines = count
            fields = parse(line)
            if fields is None:
                if line.strip():
                    self.bad_lines += 1
                continue
            time_text, remote_addr, cert_mac, generic, model, firmware, ua_mac, method, requested, status, tls, cipher = fields
            epoch = epoch_of(time_text)
            if epoch is None:
                self.bad_lines += 1
                continue
            if epoch < since:
                self.ignored_lines += 1
                continue
            statuses[status] = statuses.get(status, 0) + 1
            hour = epoch // 3600
            hours[hour] = hours.get(hour, 0) + 1
            if self.first_epoch is None or epoch < self.first_epoch:
                self.first_epoch = epoch
            if self.last_epoch is None or epoch > self.last_epoch:
                self.last_epoch = epoch
            requested_mac = file_mac(requested)
            mac = mac_of(cert_mac) if cert_mac else None
            if mac is not None:
                kind = 'unique'
            else:
                kind = 'generic' if generic else 'none'
                mac = (mac_of(ua_mac) if ua_mac else None) or requested_mac
            if mac is None:
                unidentified['count'] += 1
                unidentified[kind] += 1
                unidentified['statuses'][status] = unidentified['statuses'].get(status, 0) + 1
                continue
            if wanted is not None and mac not in wanted:
                continue
            phone = phones.get(mac)
            if phone is None:
                phone = phones[mac] = _new_phone()
            phone[COUNT] += 1
            if status == 200 and requested_mac == mac and method in ('GET', ''):
                phone[OK_COUNT] += 1
                if epoch >= phone[OK_EPOCH]:
                    phone[OK_EPOCH] = epoch
                    phone[OK_FILE] = requested
            if epoch >= phone[LAST_EPOCH]:
                phone[LAST_EPOCH] = epoch
                phone[LAST_STATUS] = status
                phone[LAST_FILE] = requested
                phone[CERT_KIND] = kind
                phone[REMOTE_ADDR] = remote_addr
                phone[TLS] = tls
                phone[CIPHER] = cipher
                if model:
                    phone[MODEL] = model
                    phone[FIRMWARE] = firmware or None
        return count

    def result(self):
        """The module's return values (without ``profiles``)."""
        return {
            'phones': dict((mac, _phone_result(phone)) for mac, phone in sorted(self.phones.items())),
            'unidentified': dict(self.unidentified, statuses=_status_keys(self.unidentified['statuses'])),
            'statuses': _status_keys(self.statuses),
            'per_hour': dict((time.strftime('%Y-%m-%dT%H', time.gmtime(hour * 3600)), count)
                             for hour, count in sorted(self.hours.items())),
            'files': self.files,
            'lines': self.lines_total(),
            'bad_lines': self.bad_lines,
            'ignored_lines': self.ignored_lines,
            'first_time': None if self.first_epoch is None else iso_utc(self.first_epoch),
            'last_time': None if self.last_epoch is None else iso_utc(self.last_epoch),
        }

    def lines_total(self):
        return sum(entry['lines'] for entry in self.files)


def _status_keys(counts):
    return dict((str(status), count) for status, count in sorted(counts.items()))


def _behavior(status):
    try:
        return http_behavior(status), status_reason(status)
    except ValueError:
        return None, 'HTTP status %r' % (status,)


def _phone_result(phone):
    behavior, reason = _behavior(phone[LAST_STATUS])
    return {
        'count': phone[COUNT],
        'last_time': iso_utc(phone[LAST_EPOCH]),
        'last_status': phone[LAST_STATUS],
        'last_behavior': behavior,
        'last_reason': reason,
        'last_file': phone[LAST_FILE],
        'last_ok_time': None if phone[OK_COUNT] == 0 else iso_utc(phone[OK_EPOCH]),
        'last_ok_file': phone[OK_FILE],
        'ok_count': phone[OK_COUNT],
        'model': phone[MODEL],
        'firmware': phone[FIRMWARE],
        'cert_kind': phone[CERT_KIND],
        'remote_addr': phone[REMOTE_ADDR],
        'tls': phone[TLS],
        'cipher': phone[CIPHER],
    }


def nginx_etag(mtime, size):
    """The ETag nginx sends for a static file: hex of the mtime's seconds and of the size, quoted."""
    return '"%x-%x"' % (int(mtime), size)


def profile_times(docroot, names, wanted=None):
    """``{$MA: {mtime, time, size, etag}}`` of the profile files in ``docroot`` (names of the rule only)."""
    profiles = {}
    try:
        entries = list(os.scandir(docroot))
    except FileNotFoundError:
        raise ResyncLogError('docroot %s: no such directory (the profiles directory, or null for no publish times)' % docroot)
    except OSError as exc:
        raise ResyncLogError('docroot %s: cannot list it: %s' % (docroot, exc.strerror or exc))
    for entry in entries:
        mac = names.profile_mac(entry.name)
        if mac is None or (wanted is not None and mac not in wanted):
            continue
        try:
            if not entry.is_file():
                continue
            stat = entry.stat()
        except OSError:
            continue  # removed while listed: not published
        profiles[mac] = {'mtime': stat.st_mtime, 'time': iso_utc(stat.st_mtime), 'size': stat.st_size,
                         'etag': nginx_etag(stat.st_mtime, stat.st_size)}
    return dict(sorted(profiles.items()))


def _wanted_macs(macs):
    if macs is None:
        return None
    wanted = set()
    for value in macs:
        try:
            wanted.add(normalize_mac(value))
        except MACError as exc:
            raise ResyncLogError('macs: %s' % exc)
    return wanted


def summarise(path=DEFAULT_PATH, rotated=True, docroot=DEFAULT_DOCROOT, url_path=DEFAULT_URL_PATH,
              profile_filename='$MA.xml', since=None, macs=None):
    """Read the access log ``path`` (and its rotated files) and return the module's result dict."""
    names = ProfileNames(profile_filename, url_path)
    since_epoch = None if since in (None, '') else parse_time(since, 'since')
    wanted = _wanted_macs(macs)
    files = log_files(path, rotated)
    summary = LogSummary(names, since_epoch, wanted)
    for log_file in files:
        mtime = log_file[1]
        if since_epoch is not None and mtime < since_epoch:
            # Its last line was written before its mtime: every line is older than since.
            summary.files.append({'path': log_file[0], 'lines': 0, 'bad_lines': 0, 'skipped': 'older than since'})
            continue
        summary.read(log_file[0])
    result = summary.result()
    result['profiles'] = profile_times(docroot, names, wanted) if docroot else None
    return result


def run_module(module, result):
    """The module's backend: the summary into ``result``; nothing on the server changes."""
    params = module.params
    result['changed'] = False
    result.update(summarise(params['path'], params['rotated'], params['docroot'], params['url_path'],
                            params['profile_filename'], params['since'], params['macs']))
