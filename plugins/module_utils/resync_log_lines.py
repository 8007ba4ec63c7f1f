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
import operator
import os
import re
import time

from ansible_collections.phoneprov.mpp.plugins.module_utils.mac import SPELLINGS, MACError, normalize_mac, spelling_regex
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_filename import (
    FilenameError, filename_regex, profile_filename)

GZIP_MAGIC = b'\x1f\x8b'
# The fields a line gives the summary, in this order (LineParser.fields).
FIELDS = ('time', 'remote_addr', 'mac', 'generic', 'model', 'firmware', 'ua_mac', 'method', 'file', 'status', 'tls', 'cipher')
_TEXT_FIELDS = frozenset(FIELDS) - frozenset(('generic', 'status'))
_UTC = datetime.timezone.utc
# The $MA spelling (twelve hex digits, mac.py's first spelling), lower-cased without normalize_mac's checks.
_TWELVE_HEX = re.compile(r'%s\Z' % spelling_regex(SPELLINGS[0]))
# How the last part of a whole line (after the last string) reads: a cut line ends otherwise.
LINE_ENDS = frozenset(('}', '}\n', '}\r\n'))


class ResyncLogError(Exception):
    """Bad options or a log that cannot be read at all."""


def fast_mac(raw):
    """``$MA`` of a MAC in any spelling of mac.py, None when it is none; twelve hex digits need no more than lower()."""
    if _TWELVE_HEX.match(raw):
        return raw.lower()
    try:
        return normalize_mac(raw)
    except MACError:
        return None


def iso_utc(epoch):
    """ISO 8601 in UTC, as nginx writes $time_iso8601 on a UTC server: 2026-12-02T01:04:33+00:00."""
    return time.strftime('%Y-%m-%dT%H:%M:%S+00:00', time.gmtime(epoch))


class IsoTimes(object):
    """:func:`iso_utc` for many times: the date and hour formatted once per hour."""

    def __init__(self):
        self._hours = {}

    def __call__(self, epoch):
        hour, seconds = divmod(int(epoch), 3600)
        prefix = self._hours.get(hour)
        if prefix is None:
            prefix = self._hours[hour] = time.strftime('%Y-%m-%dT%H', time.gmtime(hour * 3600))
        return '%s:%02d:%02d+00:00' % ((prefix,) + divmod(seconds, 60))


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


class _Layout(object):  # pylint: disable=too-few-public-methods
    """Where the fields stand in ``line.split('"')`` of one log format's lines (see LineParser)."""

    def __init__(self, size, key_positions, keys, value_positions):
        self.size = size
        self.keys = keys
        self.keys_of = operator.itemgetter(*key_positions)
        self.values_of = operator.itemgetter(*value_positions)


def _learn_layout(parts):
    """The _Layout of a line's parts, or None when a field the summary needs is not where the fast path reads it."""
    positions = {}
    index = 1
    while index < len(parts) - 1:
        if not parts[index - 1].endswith(('{', ',')):
            return None
        if parts[index + 1] == ':':
            positions[parts[index]] = (True, index + 2)
            index += 4
        else:
            positions[parts[index]] = (False, index + 1)
            index += 2
    value_positions = []
    for name in FIELDS:
        is_text, position = positions.get(name, (None, None))
        # Text fields as strings; generic and status as bare values followed by another field.
        if position is None or is_text != (name in _TEXT_FIELDS) or (not is_text and not parts[position].endswith(',')):
            return None
        value_positions.append(position)
    # The keys of the fields read stand where the layout says: with no escape in the line, the
    # strings before them (and so every position) are those of this format.
    needed = [position - 2 if parts[position - 1] == ':' else position - 1 for position in value_positions]
    return _Layout(len(parts), needed, tuple(parts[position] for position in needed), value_positions)


class LineParser(object):
    """One ``mpp_json`` line to :data:`FIELDS`; times to UTC epoch seconds (hour offsets cached).

    json.loads is most of the cost of a line. A line without a backslash has no escape in any
    string, so every ``"`` delimits a string and ``line.split('"')`` puts each field at a place
    fixed by the log format. The first such line of a format is decoded by json.loads, its
    layout learned (and kept only when it gives json.loads's very fields); later lines of the
    same format (the same number of parts and every key at its place) are read from their parts.
    Anything else (escapes, another format, a cut line) goes through json.loads.
    """

    MAX_LAYOUTS = 8

    def __init__(self):
        self._hours = {}
        self._layouts = []
        # Bare JSON values as the parts hold them (":false,", ":200,"), each decoded once.
        self.generic_tokens = {':true,': True, ':false,': False}
        self.status_tokens = {}

    @property
    def layout(self):
        """The layout of the latest format learned (None before the first line without a backslash)."""
        return self._layouts[0] if self._layouts else None

    def bare_status(self, token):
        """The status of a bare token such as ``:200,``, None when it is not one (cached)."""
        status = self.status_tokens.get(token)
        if status is None and token[1:-1].isdigit() and len(self.status_tokens) < 1000:
            status = self.status_tokens[token] = int(token[1:-1])
        return status

    def from_parts(self, layout, parts):
        """:data:`FIELDS` of a line's parts read by ``layout``, None when they do not fit it."""
        if len(parts) != layout.size or layout.keys_of(parts) != layout.keys or parts[-1] not in LINE_ENDS:
            return None
        values = list(layout.values_of(parts))
        values[3], values[9] = self.generic_tokens.get(values[3]), self.bare_status(values[9])
        if values[3] is None or values[9] is None:
            return None
        return values

    def fields(self, line):
        """The list of :data:`FIELDS` (text fields '' when absent), or None for a line that is no log record."""
        if '\\' in line:
            return self.decoded_fields(line)
        parts = line.split('"')
        for layout in self._layouts:
            values = self.from_parts(layout, parts)
            if values is not None:
                if layout is not self._layouts[0]:
                    self._layouts.remove(layout)
                    self._layouts.insert(0, layout)
                return values
        values = self.decoded_fields(line)
        if values is not None and len(self._layouts) < self.MAX_LAYOUTS:
            layout = _learn_layout(parts)
            # Kept only when it reads this very line as json.loads does.
            if layout is not None and self.from_parts(layout, parts) == values:
                self._layouts.insert(0, layout)
        return values

    @staticmethod
    def decoded_fields(line):
        """:meth:`fields` by json.loads."""
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
        return values

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
            # The file name rule's own regex (the one nginx's location is made of).
            self._name = re.compile(filename_regex(pattern) + r'\Z')
        except FilenameError as exc:
            raise ResyncLogError('profile_filename: %s' % exc)
        if not isinstance(url_path, str) or not url_path.startswith('/') or not url_path.endswith('/'):
            raise ResyncLogError('url_path %r must start and end with / (as mpp_server_url_path, for example /cfg/)' % (url_path,))
        self.pattern = pattern
        self.url_path = url_path
        self.files = {}
        # How the rule spells a $MA (learned from one name it gives): checking that a name is spelled
        # as the rule writes it is then one call, not the rule's macro expansion per file.
        probe = '0a1b2c3d4e5f'
        spelled = self._name.match(profile_filename(pattern, probe)).group(1)
        self._spell = next((spell for spell in (str, str.upper, _colon) if spell(probe) == spelled), None)

    def file_mac(self, requested):
        """``$MA`` of the phone whose profile ``requested`` (a URI path) is, else None."""
        mac = self.files.get(requested)
        if mac is not None:
            return mac
        if requested.startswith(self.url_path):
            match = self._name.match(requested, len(self.url_path))
            if match:
                mac = fast_mac(match.group(1))
        if mac is not None and len(self.files) < 1000000:
            self.files[requested] = mac
        return mac

    def profile_mac(self, name):
        """``$MA`` of the phone whose profile file (in the document root) ``name`` is, spelled as the rule writes it."""
        match = self._name.match(name)
        mac = fast_mac(match.group(1)) if match else None
        if mac is None:
            return None
        if self._spell is not None:
            return mac if self._spell(mac) == match.group(1) else None
        return mac if profile_filename(self.pattern, mac) == name else None


def _colon(ma):
    """``$MAC`` of a ``$MA`` (mac.mac_colon without its checks: the MAC is normalised already)."""
    return ':'.join((ma[0:2], ma[2:4], ma[4:6], ma[6:8], ma[8:10], ma[10:12]))
