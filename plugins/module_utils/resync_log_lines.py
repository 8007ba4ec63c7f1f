# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading the ``mpp_json`` access log for resync_log.py: files, lines, times and profile names.

- :func:`log_files`: the log and its rotated files (``name.N`` and ``name.N.gz``), oldest first.
- :func:`open_log`: a file's lines as text, gzip detected by its magic bytes, streamed.
- :class:`LineParser`: one line to the fields the summary needs, and ``$time_iso8601`` to
  UTC epoch seconds.
- :class:`ProfileNames`: the file name rule of profile_filename.py applied to requested paths
  and to the document root's names.
"""

from __future__ import annotations

import datetime
import gzip
import json
import os
import re
import time

from ansible_collections.phoneprov.mpp.plugins.module_utils.mac import MACError, normalize_mac, spelling_regex
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_filename import (
    MACRO_SPELLINGS, FilenameError, parse_filename, profile_filename)

GZIP_MAGIC = b'\x1f\x8b'
# The fields a line gives the summary, in this order (LineParser.fields).
FIELDS = ('time', 'remote_addr', 'mac', 'generic', 'model', 'firmware', 'ua_mac', 'method', 'file', 'status', 'tls', 'cipher')
_TEXT_FIELDS = frozenset(FIELDS) - frozenset(('generic', 'status'))
_UTC = datetime.timezone.utc


class ResyncLogError(Exception):
    """Bad options or a log that cannot be read at all."""


def iso_utc(epoch):
    """ISO 8601 in UTC, as nginx writes $time_iso8601 on a UTC server: 2026-12-02T01:04:33+00:00."""
    return time.strftime('%Y-%m-%dT%H:%M:%S+00:00', time.gmtime(epoch))


def parse_time(value, what='time'):
    """UTC epoch seconds of ``value``: a number (epoch) or ISO 8601 text; without an offset, UTC."""
    if isinstance(value, bool):
        raise ResyncLogError('%s must be an ISO 8601 time or epoch seconds, got %r' % (what, value))
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime.datetime):
        stamp = value
    else:
        text = str(value).strip()
        try:
            return float(text)
        except ValueError:
            pass
        if text.endswith(('Z', 'z')):
            text = text[:-1] + '+00:00'
        try:
            stamp = datetime.datetime.fromisoformat(text)
        except ValueError:
            raise ResyncLogError('%s %r is neither ISO 8601 (2026-12-02T01:00:00+01:00) nor epoch seconds' % (what, value))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=_UTC)
    return stamp.timestamp()


def log_files(path, rotated=True):
    """``[(path, mtime)]`` of the log and, with ``rotated``, ``path.N``/``path.N.gz``: oldest first."""
    directory, base = os.path.split(path)
    found = []
    if rotated:
        pattern = re.compile(r'%s\.([1-9][0-9]*)(\.gz)?\Z' % re.escape(base))
        try:
            names = os.listdir(directory or '.')
        except OSError as exc:
            raise ResyncLogError('access log directory %s: %s' % (directory or '.', exc.strerror or exc))
        for name in names:
            match = pattern.match(name)
            if match:
                # Higher numbers are older; path.N before path.N.gz should both exist.
                found.append((-int(match.group(1)), bool(match.group(2)), os.path.join(directory, name)))
    files = [entry[2] for entry in sorted(found)]
    if os.path.lexists(path):
        files.append(path)
    if not files:
        raise ResyncLogError('no access log at %s%s' % (path, ' (nor rotated files %s.N)' % path if rotated else ''))
    result = []
    for name in files:
        try:
            stat = os.stat(name)
        except OSError as exc:
            raise ResyncLogError('access log %s: %s' % (name, exc.strerror or exc))
        result.append((name, stat.st_mtime))
    return result


def open_log(path):
    """``(text handle, compressed)`` of one log file, streamed; undecodable bytes are replaced."""
    try:
        with open(path, 'rb') as raw:
            compressed = raw.read(2) == GZIP_MAGIC
        if compressed:
            return gzip.open(path, 'rt', encoding='utf-8', errors='replace', newline='\n'), True
        return open(path, 'r', encoding='utf-8', errors='replace', newline='\n'), False  # pylint: disable=consider-using-with
    except OSError as exc:
        raise ResyncLogError('access log %s: %s' % (path, exc.strerror or exc))


class LineParser(object):
    """One ``mpp_json`` line to :data:`FIELDS`; times to UTC epoch seconds (hour offsets cached)."""

    def __init__(self):
        self._hours = {}

    @staticmethod
    def fields(line):
        """The tuple of :data:`FIELDS` (text fields '' when absent), or None for a line that is no log record."""
        try:
            record = json.loads(line)
        except ValueError:
            return None
        if not isinstance(record, dict):
            return None
        status = record.get('status')
        if not isinstance(record.get('time'), str) or isinstance(status, bool) or not isinstance(status, int):
            return None
        values = []
        for name in FIELDS:
            value = record.get(name)
            if name in _TEXT_FIELDS:
                value = value if isinstance(value, str) else ('' if value is None else str(value))
            values.append(value)
        values[3] = values[3] is True
        return tuple(values)

    def epoch(self, text):
        """UTC epoch seconds of ``$time_iso8601`` (``2026-12-02T02:04:33+01:00``); None when it is not one."""
        if len(text) == 25 and text[13] == ':' and text[16] == ':' and text[19] in '+-':
            key = text[:13] + text[19:]
            base = self._hours.get(key)
            if base is None:
                try:
                    base = int(datetime.datetime.strptime(key, '%Y-%m-%dT%H%z').timestamp())
                except ValueError:
                    return None
                if len(self._hours) > 100000:
                    self._hours.clear()
                self._hours[key] = base
            minutes, seconds = text[14:16], text[17:19]
            if minutes.isdigit() and seconds.isdigit() and minutes < '60' and seconds < '61':
                return base + int(minutes) * 60 + int(seconds)
            return None
        try:
            return int(parse_time(text))
        except ResyncLogError:
            return None


class ProfileNames(object):
    """Which requested paths and document root names are profiles, and whose (file name rule)."""

    def __init__(self, pattern, url_path):
        try:
            self.parsed = parse_filename(pattern)
        except FilenameError as exc:
            raise ResyncLogError('profile_filename: %s' % exc)
        if not isinstance(url_path, str) or not url_path.startswith('/') or not url_path.endswith('/'):
            raise ResyncLogError('url_path %r must start and end with / (as mpp_server_url_path, for example /cfg/)' % (url_path,))
        self.pattern = pattern
        self.url_path = url_path
        mac = spelling_regex(MACRO_SPELLINGS[self.parsed.macro])
        # nginx's location matches the hex digits in either case (profile_filename.nginx_profile_location).
        self._name = re.compile(r'%s(%s)%s\Z' % (re.escape(self.parsed.prefix), mac, re.escape(self.parsed.suffix)))
        self._files = {}

    def file_mac(self, requested):
        """``$MA`` of the phone whose profile ``requested`` (a URI path) is, else None."""
        try:
            return self._files[requested]
        except KeyError:
            pass
        mac = None
        if requested.startswith(self.url_path):
            match = self._name.match(requested, len(self.url_path))
            if match:
                mac = normalize_mac(match.group(1))
        if mac is not None and len(self._files) < 1000000:
            self._files[requested] = mac
        return mac

    def profile_mac(self, name):
        """``$MA`` of the phone whose profile file (in the document root) ``name`` is, spelled as the rule writes it."""
        match = self._name.match(name)
        if not match:
            return None
        try:
            mac = normalize_mac(match.group(1))
        except MACError:
            return None
        return mac if profile_filename(self.pattern, mac) == name else None
