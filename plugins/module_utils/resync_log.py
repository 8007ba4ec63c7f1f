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

A big log is read by two processes: the older half of the lines (by uncompressed bytes; a plain
file may be cut at a line end) here, the newer half in a forked child, whose summary is merged
into this one as if its lines had come after. A day of 100,000 phones then takes about half the
time on a machine with two cores or more.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import time

from ansible_collections.phoneprov.mpp.plugins.module_utils.http_behavior import http_behavior, status_reason
from ansible_collections.phoneprov.mpp.plugins.module_utils.mac import MACError, normalize_mac
from ansible_collections.phoneprov.mpp.plugins.module_utils.resync_log_lines import (
    GZIP_MAGIC, LINE_ENDS, IsoTimes, LineParser, ProfileNames, ResyncLogError, fast_mac, iso_utc, log_files, open_log, parse_time)

DEFAULT_PATH = '/var/log/nginx/mpp-access.log'
DEFAULT_DOCROOT = '/srv/mpp/profiles'
DEFAULT_URL_PATH = '/cfg/'

# One phone's record: a list (smaller and faster than a dict for 100,000 phones); what the latest
# request sets stands last, from LAST_EPOCH on, so that one slice assignment sets it.
(MAC, COUNT, OK_COUNT, OK_EPOCH, OK_FILE, MODEL, FIRMWARE,
 LAST_EPOCH, LAST_STATUS, LAST_FILE, CERT_KIND, REMOTE_ADDR, TLS, CIPHER) = range(14)
_NEVER = float('-inf')
_LATEST = float('inf')
# The fields of a phone's entry in the result, in the order of result_format=rows.
PHONE_FIELDS = ('mac', 'count', 'last_time', 'last_status', 'last_behavior', 'last_reason', 'last_file', 'last_ok_time',
                'last_ok_file', 'ok_count', 'model', 'firmware', 'cert_kind', 'remote_addr', 'tls', 'cipher')
PROFILE_FIELDS = ('mac', 'mtime', 'time', 'size', 'etag')
RESULT_FORMATS = ('dict', 'rows')
# Below this many bytes of log, forking a second reader costs more than it saves.
PARALLEL_MIN_BYTES = 16 * 1024 * 1024


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

    def read(self, path, start=None, end=None):
        """Add every line of ``path`` (plain or gzip), or of the bytes ``start`` to ``end`` of a plain
        file (both at line ends); the file's entry is appended to ``files``."""
        entry = {'path': path, 'lines': 0, 'bad_lines': 0, 'compressed': False}
        self.files.append(entry)
        if start is None and end is None:
            handle, entry['compressed'] = open_log(path)
        else:
            handle = _open_range(path, start or 0, end)
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

    def state(self):
        """What :meth:`merge` needs of this summary (sent from the child reader as a pickle)."""
        return (self.phones, self.unidentified, self.counts, self.files, self.bad_lines, self.ignored_lines,
                self.first_epoch, self.last_epoch)

    def merge(self, state):
        """Add the :meth:`state` of a summary of lines that come after this one's."""
        phones, unidentified, counts, files, bad_lines, ignored_lines, first_epoch, last_epoch = state
        mine = self.phones
        for mac, theirs in phones.items():
            phone = mine.get(mac)
            if phone is None:
                mine[mac] = theirs
                continue
            phone[COUNT] += theirs[COUNT]
            if theirs[OK_COUNT]:
                phone[OK_COUNT] += theirs[OK_COUNT]
                if theirs[OK_EPOCH] >= phone[OK_EPOCH]:
                    phone[OK_EPOCH], phone[OK_FILE] = theirs[OK_EPOCH], theirs[OK_FILE]
            if theirs[LAST_EPOCH] >= phone[LAST_EPOCH]:
                phone[LAST_EPOCH:] = theirs[LAST_EPOCH:]
                if theirs[MODEL]:
                    phone[MODEL], phone[FIRMWARE] = theirs[MODEL], theirs[FIRMWARE]
        for key in ('count', 'generic', 'none'):
            self.unidentified[key] += unidentified[key]
        statuses = self.unidentified['statuses']
        for status, count in unidentified['statuses'].items():
            statuses[status] = statuses.get(status, 0) + count
        for key, count in counts.items():
            self.counts[key] = self.counts.get(key, 0) + count
        if files and self.files and files[0]['path'] == self.files[-1]['path']:
            # A plain file cut in two: one entry, as one reader gives.
            joined = self.files[-1]
            joined['lines'] += files[0]['lines']
            joined['bad_lines'] += files[0]['bad_lines']
            if 'error' in files[0]:
                joined['error'] = files[0]['error']
            files = files[1:]
        self.files.extend(files)
        self.bad_lines += bad_lines
        self.ignored_lines += ignored_lines
        if first_epoch is not None:
            self.first_epoch = first_epoch if self.first_epoch is None else min(self.first_epoch, first_epoch)
            self.last_epoch = last_epoch if self.last_epoch is None else max(self.last_epoch, last_epoch)

    def result(self, result_format='dict'):
        """The module's return values (without ``profiles``): ``phones`` a dict by MAC, or with
        ``result_format='rows'`` ``phone_fields`` and ``phone_rows`` (one JSON text per phone)."""
        statuses, hours = {}, {}
        for key, count in self.counts.items():
            hour, status = divmod(key, 1000)
            statuses[status] = statuses.get(status, 0) + count
            hours[hour] = hours.get(hour, 0) + count
        iso, meanings = IsoTimes(), {}
        values = [_phone_values(phone, iso, meanings) for _mac, phone in sorted(self.phones.items())]
        if result_format == 'rows':
            phones = {'phone_fields': list(PHONE_FIELDS), 'phone_rows': _json_text(values)}
        else:
            phones = {'phones': dict((row[0], dict(zip(PHONE_FIELDS[1:], row[1:]))) for row in values)}
        return dict(phones, **{
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
        })

    def lines_total(self):
        return sum(entry['lines'] for entry in self.files)


def _status_keys(counts):
    return dict((str(status), count) for status, count in sorted(counts.items()))


def _meaning(status):
    try:
        return http_behavior(status), status_reason(status)
    except ValueError:
        return None, 'HTTP status %r' % (status,)


def _phone_values(phone, iso, meanings):
    """A phone's entry as a tuple in PHONE_FIELDS order."""
    status = phone[LAST_STATUS]
    if status not in meanings:
        meanings[status] = _meaning(status)
    behavior, reason = meanings[status]
    return (phone[MAC], phone[COUNT], iso(phone[LAST_EPOCH]), status, behavior, reason, phone[LAST_FILE],
            None if phone[OK_COUNT] == 0 else iso(phone[OK_EPOCH]), phone[OK_FILE], phone[OK_COUNT], phone[MODEL],
            phone[FIRMWARE], phone[CERT_KIND], phone[REMOTE_ADDR], phone[TLS], phone[CIPHER])


def _json_text(rows):
    """The rows as one compact JSON text: Ansible then hands over one string, not a value per field."""
    return json.dumps(rows, separators=(',', ':'))


def rows_to_dict(fields, rows):
    """``{$MA: {field: value}}`` of a result_format=rows result's ``*_fields`` and ``*_rows`` (MAC first);
    ``rows`` is the JSON text of the list of rows (or the list itself)."""
    fields = list(fields)
    if isinstance(rows, str):
        rows = json.loads(rows)
    if not rows:
        return {}
    if not fields or fields[0] != 'mac':
        raise ValueError('the fields must start with mac, got %r' % (fields[:1],))
    names, out = fields[1:], {}
    if not isinstance(rows, list):
        raise ValueError('the rows must be a list, got %s' % type(rows).__name__)
    for values in rows:
        if not isinstance(values, list) or len(values) != len(fields):
            raise ValueError('a row must be a list of %d values, got %r' % (len(fields), values))
        out[values[0]] = dict(zip(names, values[1:]))
    return out


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
              profile_filename='$MA.xml', since=None, macs=None, result_format='dict', workers=2):
    """Read the access log ``path`` (and its rotated files) and return the module's result dict.

    ``workers`` 2 reads a big log in two processes (see the module's docstring), 1 in this one."""
    if result_format not in RESULT_FORMATS:
        raise ResyncLogError('result_format must be one of %s, got %r' % (', '.join(RESULT_FORMATS), result_format))
    names = ProfileNames(profile_filename, url_path)
    since_epoch = None if since in (None, '') else parse_time(since, 'since')
    wanted = _wanted_macs(macs)
    summary = LogSummary(names, since_epoch, wanted)
    pieces = []
    for log_path, mtime in log_files(path, rotated):
        if since_epoch is not None and mtime < since_epoch:
            # Its last line was written before its mtime: every line is older than since.
            summary.files.append({'path': log_path, 'lines': 0, 'bad_lines': 0, 'skipped': 'older than since'})
        else:
            pieces.append(log_path)
    older, newer = _halves(pieces) if workers > 1 and hasattr(os, 'fork') else ([(name, None, None) for name in pieces], [])
    if newer:
        _read_in_two(summary, older, newer, lambda: LogSummary(names, since_epoch, wanted))
    else:
        for piece in older:
            summary.read(*piece)
    result = summary.result(result_format)
    profiles = profile_times(docroot, names, wanted) if docroot else None
    if result_format == 'rows':
        result['profile_fields'] = list(PROFILE_FIELDS)
        result['profile_rows'] = None if profiles is None else _json_text(
            [(mac, entry['mtime'], entry['time'], entry['size'], entry['etag']) for mac, entry in profiles.items()])
    else:
        result['profiles'] = profiles
    return result


# Reading a byte of gzip-ed lines costs about this many times a plain one (decompression), measured.
GZIP_COST = 1.4


def _uncompressed_size(path):
    """Bytes of lines in ``path``: its size, or a gzip file's ISIZE trailer (the size modulo 4 GiB)."""
    size = os.path.getsize(path)
    with open(path, 'rb') as handle:
        if handle.read(2) != GZIP_MAGIC or size < 18:
            return size, False
        handle.seek(-4, os.SEEK_END)
        return max(struct.unpack('<I', handle.read(4))[0], size), True


def _line_end_after(path, offset):
    """The offset just past the line end at or after ``offset`` in a plain file."""
    with open(path, 'rb') as handle:
        handle.seek(offset)
        handle.readline()
        return handle.tell()


def _halves(paths):
    """``(older, newer)``: the pieces ``(path, start, end)`` of the files ``paths`` (oldest first)
    cut into two runs of about the same number of bytes; newer is empty when the log is small."""
    sizes = [_uncompressed_size(name) for name in paths]
    total = sum(size * (GZIP_COST if compressed else 1) for size, compressed in sizes)
    whole = [(name, None, None) for name in paths]
    if total < PARALLEL_MIN_BYTES:
        return whole, []
    half, seen = total / 2.0, 0
    for index, (name, (size, compressed)) in enumerate(zip(paths, sizes)):
        if compressed:
            size *= GZIP_COST
        if seen + size < half:
            seen += size
            continue
        if not compressed:
            cut = _line_end_after(name, int(half - seen))
            if 0 < cut < size:
                return whole[:index] + [(name, 0, cut)], [(name, cut, None)] + whole[index + 1:]
        # A gzip file is read whole: the cut goes on the side nearer the middle.
        index += 1 if half - seen > seen + size - half else 0
        return (whole[:index], whole[index:]) if 0 < index < len(whole) else (whole, [])
    return whole, []


class _ByteRange(io.RawIOBase):
    """The bytes ``start`` to ``end`` (None: the end) of a file, as a raw stream."""

    def __init__(self, path, start, end):
        super(_ByteRange, self).__init__()
        self._file = open(path, 'rb', buffering=0)  # pylint: disable=consider-using-with
        self._file.seek(start)
        self._left = None if end is None else end - start

    def readable(self):
        return True

    def readinto(self, buffer):
        view = memoryview(buffer)
        if self._left is not None:
            if self._left <= 0:
                return 0
            view = view[:self._left]
        count = self._file.readinto(view)
        if self._left is not None:
            self._left -= count or 0
        return count

    def close(self):
        self._file.close()
        super(_ByteRange, self).close()


def _open_range(path, start, end):
    """A text handle of the lines in bytes ``start`` to ``end`` of the plain file ``path``."""
    try:
        raw = _ByteRange(path, start, end)
    except OSError as exc:
        raise ResyncLogError('access log %s: %s' % (path, exc.strerror or exc))
    return io.TextIOWrapper(io.BufferedReader(raw, 1 << 20), encoding='utf-8', errors='replace', newline='\n')


def _read_in_two(summary, older, newer, new_summary):
    """Read ``older`` into ``summary`` here and ``newer`` in a forked child; merge the child's summary."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        status = 1
        try:
            os.close(read_fd)
            child = new_summary()
            try:
                for piece in newer:
                    child.read(*piece)
                message = ('state', child.state())
            except ResyncLogError as exc:
                message = ('error', str(exc))
            with os.fdopen(write_fd, 'wb') as out:
                pickle.dump(message, out, pickle.HIGHEST_PROTOCOL)
            status = 0
        finally:
            os._exit(status)  # never run the parent's cleanup in the child
    os.close(write_fd)
    try:
        for piece in older:
            summary.read(*piece)
    finally:
        # The child blocks on the pipe until it is read: read it before waiting.
        with os.fdopen(read_fd, 'rb') as handle:
            data = handle.read()
        _pid, status = os.waitpid(pid, 0)
    if not data:
        raise ResyncLogError('the second log reader ended with status %d and no summary' % status)
    kind, value = pickle.loads(data)
    if kind == 'error':
        raise ResyncLogError(value)
    summary.merge(value)


def run_module(module, result):
    """The module's backend: the summary into ``result``; nothing on the server changes."""
    params = module.params
    docroot = params['docroot']
    result['changed'] = False
    if docroot is not None and not isinstance(docroot, str):
        raise ResyncLogError('docroot must be a directory path or null, got %r' % (docroot,))
    result.update(summarise(params['path'], params['rotated'], os.path.expanduser(os.path.expandvars(docroot)) if docroot else None,
                            params['url_path'], params['profile_filename'], params['since'], params['macs'],
                            params['result_format']))
