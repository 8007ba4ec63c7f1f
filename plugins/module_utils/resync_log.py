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
    LINE_ENDS, IsoTimes, LineParser, ProfileNames, ResyncLogError, fast_mac, iso_utc, log_files, open_log, parse_time)

DEFAULT_PATH = '/var/log/nginx/mpp-access.log'
DEFAULT_DOCROOT = '/srv/mpp/profiles'
DEFAULT_URL_PATH = '/cfg/'

# One phone's record: a list (smaller and faster than a dict for 100,000 phones); what the latest
# request sets stands last, from LAST_EPOCH on, so that one slice assignment sets it.
(MAC, COUNT, OK_COUNT, OK_EPOCH, OK_FILE, MODEL, FIRMWARE,
 LAST_EPOCH, LAST_STATUS, LAST_FILE, CERT_KIND, REMOTE_ADDR, TLS, CIPHER) = range(14)
_NEVER = float('-inf')
_LATEST = float('inf')


class LogSummary(object):
    """Everything the lines say, by MAC; fed one file at a time (:meth:`read`)."""

    def __init__(self, names, since=None, macs=None):
        self.names = names
        self.since = _NEVER if since is None else since
        self.wanted = None if macs is None else frozenset(macs)
        self.phones = {}
        self.unidentified = {'count': 0, 'generic': 0, 'none': 0, 'statuses': {}}
        # Requests per (UTC hour, status), as hour * 1000 + status: one dict operation a line.
        self.counts = {}
        self.files = []
        self.bad_lines = 0
        self.ignored_lines = 0
        self.first_epoch = None
        self.last_epoch = None
        self._macs = {}
        self._parser = LineParser()

    def _mac(self, raw):
        """``$MA`` of a MAC as the log spells it (cached: each phone spells it the same way every time)."""
        mac = self._macs.get(raw) or fast_mac(raw)
        if mac is not None and len(self._macs) < 1000000:
            self._macs[raw] = mac
        return mac

    def phone_of(self, cert_mac, generic, ua_mac, requested, status):
        """(record, certificate kind) of the phone a line belongs to; (None, kind) when none or not wanted.

        The loop's slow path: a certificate MAC not spelled as ``$MA`` or not seen before, or no certificate MAC.
        """
        mac = self._mac(cert_mac) if cert_mac else None
        if mac is not None:
            kind = 'unique'
        else:
            kind = 'generic' if generic else 'none'
            mac = (self._mac(ua_mac) if ua_mac else None) or self.names.file_mac(requested)
            if mac is None:
                self.unidentified['count'] += 1
                self.unidentified[kind] += 1
                self.unidentified['statuses'][status] = self.unidentified['statuses'].get(status, 0) + 1
                return None, kind
        if self.wanted is not None and mac not in self.wanted:
            return None, kind
        phone = self.phones.get(mac)
        if phone is None:
            phone = self.phones[mac] = [mac, 0, 0, _NEVER, None, None, None, _NEVER, None, None, None, None, None, None]
        return phone, kind

    def read(self, path):
        """Add every line of ``path`` (plain or gzip); the file's entry is appended to ``files``."""
        entry = {'path': path, 'lines': 0, 'bad_lines': 0, 'compressed': False}
        self.files.append(entry)
        handle, entry['compressed'] = open_log(path)
        try:
            with handle:
                self._read_lines(handle, entry)
        except (OSError, EOFError, ValueError) as exc:
            # A truncated or corrupt rotated file: what was read counts, the rest is reported.
            entry['error'] = '%s: %s' % (type(exc).__name__, exc)
        return entry

    def _read_lines(self, handle, entry):
        # Once per line (a million a day): names bound locally, the parser's fast path inline
        # (LineParser.from_parts, without its calls), one dict operation for the counts.
        parser, epoch_of, phone_of = self._parser, self._parser.epoch, self.phone_of
        files, file_mac = self.names.files, self.names.file_mac
        phones, counts, since = self.phones, self.counts, self.since
        first = _LATEST if self.first_epoch is None else self.first_epoch
        last = _NEVER if self.last_epoch is None else self.last_epoch
        lines = bad = ignored = 0
        time_text = epoch = hour_key = layout = None
        size = keys = keys_of = values_of = None
        generic_tokens, status_tokens, line_ends = parser.generic_tokens, parser.status_tokens, LINE_ENDS
        try:
            for lines, line in enumerate(handle, 1):
                fields = None
                if layout is not None and '\\' not in line:
                    parts = line.split('"')
                    if len(parts) == size and keys_of(parts) == keys and parts[-1] in line_ends:
                        fields = values_of(parts)
                        generic, status = generic_tokens.get(fields[3]), status_tokens.get(fields[9])
                        if generic is None or status is None:
                            fields = None
                if fields is None:
                    fields = parser.fields(line)
                    if fields is None:
                        if line.strip():
                            bad += 1
                        continue
                    generic, status = fields[3], fields[9]
                    if parser.layout is not None and parser.layout is not layout:
                        layout = parser.layout
                        size, keys, keys_of, values_of = layout.size, layout.keys, layout.keys_of, layout.values_of
                if fields[0] != time_text:
                    # Lines of the same second share the conversion, the hour's key and first/last.
                    time_text = fields[0]
                    epoch = epoch_of(time_text)
                    if epoch is not None and epoch >= since:
                        hour_key = epoch // 3600 * 1000
                        first, last = min(first, epoch), max(last, epoch)
                if epoch is None:
                    bad += 1
                    continue
                if epoch < since:
                    ignored += 1
                    continue
                _time, remote_addr, cert_mac, _generic, model, firmware, ua_mac, method, requested, _status, tls, cipher = fields
                key = hour_key + status
                counts[key] = counts.get(key, 0) + 1
                # Most lines: a certificate MAC spelled as $MA, of a phone seen before.
                phone = phones.get(cert_mac) if cert_mac else None
                if phone is None:
                    phone, kind = phone_of(cert_mac, generic, ua_mac, requested, status)
                    if phone is None:
                        continue
                else:
                    kind = 'unique'
                phone[COUNT] += 1
                if status == 200 and (files.get(requested) or file_mac(requested)) == phone[MAC] and method in ('GET', ''):
                    phone[OK_COUNT] += 1
                    if epoch >= phone[OK_EPOCH]:
                        phone[OK_EPOCH] = epoch
                        phone[OK_FILE] = requested
                if epoch >= phone[LAST_EPOCH]:
                    phone[LAST_EPOCH:] = (epoch, status, requested, kind, remote_addr, tls, cipher)
                    if model:
                        phone[MODEL] = model
                        phone[FIRMWARE] = firmware or None
        finally:
            entry['lines'] += lines
            entry['bad_lines'] += bad
            self.bad_lines += bad
            self.ignored_lines += ignored
            if last != _NEVER:
                self.first_epoch, self.last_epoch = first, last

    def result(self):
        """The module's return values (without ``profiles``)."""
        statuses, hours = {}, {}
        for key, count in self.counts.items():
            hour, status = divmod(key, 1000)
            statuses[status] = statuses.get(status, 0) + count
            hours[hour] = hours.get(hour, 0) + count
        iso, meanings = IsoTimes(), {}
        return {
            'phones': dict((mac, _phone_result(phone, iso, meanings)) for mac, phone in sorted(self.phones.items())),
            'unidentified': dict(self.unidentified, statuses=_status_keys(self.unidentified['statuses'])),
            'statuses': _status_keys(statuses),
            'per_hour': dict((time.strftime('%Y-%m-%dT%H', time.gmtime(hour * 3600)), count)
                             for hour, count in sorted(hours.items())),
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


def _meaning(status):
    try:
        return http_behavior(status), status_reason(status)
    except ValueError:
        return None, 'HTTP status %r' % (status,)


def _phone_result(phone, iso, meanings):
    status = phone[LAST_STATUS]
    if status not in meanings:
        meanings[status] = _meaning(status)
    behavior, reason = meanings[status]
    return {
        'count': phone[COUNT],
        'last_time': iso(phone[LAST_EPOCH]),
        'last_status': phone[LAST_STATUS],
        'last_behavior': behavior,
        'last_reason': reason,
        'last_file': phone[LAST_FILE],
        'last_ok_time': None if phone[OK_COUNT] == 0 else iso(phone[OK_EPOCH]),
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
        with os.scandir(docroot) as entries:
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
    except FileNotFoundError:
        raise ResyncLogError('docroot %s: no such directory (the profiles directory, or null for no publish times)' % docroot)
    except OSError as exc:
        raise ResyncLogError('docroot %s: cannot list it: %s' % (docroot, exc.strerror or exc))
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
    docroot = params['docroot']
    result['changed'] = False
    if docroot is not None and not isinstance(docroot, str):
        raise ResyncLogError('docroot must be a directory path or null, got %r' % (docroot,))
    result.update(summarise(params['path'], params['rotated'], os.path.expanduser(os.path.expandvars(docroot)) if docroot else None,
                            params['url_path'], params['profile_filename'], params['since'], params['macs']))
