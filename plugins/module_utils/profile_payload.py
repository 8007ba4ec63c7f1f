# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The payload phone_profiles' action plugin sends its module: one definition of the wire format.

The controller renders the fleet and writes one payload file (:class:`PayloadWriter`); the
managed host reads it back record by record (:func:`read_payload`). The file is one or more
zlib streams back to back (one per render worker). Each stream starts with a version line
``{"format": "phoneprov.mpp.phone_profiles payload", "version": 1}``, followed by one JSON
line per phone (``file``, ``mac``, ``sha256``, ``render``, ``size``, ``diff``; see ``PayloadRecord``),
each followed by ``size`` octets of profile content when ``size`` is 0 or more (-1: no content,
the host's file is expected to hold it already).
"""

from __future__ import annotations

import collections
import json
import zlib

FORMAT = 'phoneprov.mpp.phone_profiles payload'
VERSION = 1
_READ_BLOCK = 1 << 20

# One phone's record: its profile's file name, its MAC ($MA), the SHA-256 (hex) of the profile
# as published, its render fingerprint (or None), the content (bytes, or None when not shipped)
# and whether the controller wants the old content back for a diff.
PayloadRecord = collections.namedtuple('PayloadRecord', 'filename mac sha256 render content diff')


class PayloadError(ValueError):
    """A payload that is not this format and version, or is cut short."""


def _line(data):
    return json.dumps(data, separators=(',', ':')).encode('utf-8') + b'\n'


class PayloadWriter(object):
    """Writes one zlib stream of records into an open binary file (``close()`` ends the stream)."""

    def __init__(self, handle):
        self._handle = handle
        self._compressor = zlib.compressobj(1)
        self._write(_line({'format': FORMAT, 'version': VERSION}))

    def _write(self, data):
        self._handle.write(self._compressor.compress(data))

    def add(self, filename, mac, sha256, render=None, content=None, diff=False):
        """One phone's record; ``content`` only when the host needs the profile's bytes."""
        header = {'file': filename, 'mac': mac, 'sha256': sha256, 'size': -1 if content is None else len(content)}
        if render:
            header['render'] = render
        if diff:
            header['diff'] = True
        self._write(_line(header))
        if content:
            self._write(content)

    def close(self):
        self._handle.write(self._compressor.flush())

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


class _Inflater(object):
    """The decompressed octets of a file of zlib streams back to back, read as needed."""

    def __init__(self, handle):
        self._handle, self._decompressor, self.eof = handle, zlib.decompressobj(), False
        self.buffer = bytearray()

    def fill(self, need):
        """Decompress until ``buffer`` holds ``need`` octets or the file ends."""
        try:
            while len(self.buffer) < need and not self.eof:
                self._inflate(self._handle.read(_READ_BLOCK))
        except zlib.error as exc:
            raise PayloadError('payload is corrupt: %s' % exc)

    def _inflate(self, block):
        while True:
            if not block:
                self.buffer.extend(self._decompressor.flush())
                self.eof = True
                return
            self.buffer.extend(self._decompressor.decompress(block))
            if not self._decompressor.eof:
                return
            # the next stream starts right after this one
            block = self._decompressor.unused_data
            self._decompressor = zlib.decompressobj()
            if not block:
                return

    def line(self):
        """The next line (without its newline), or None at the end of the file."""
        newline = self.buffer.find(b'\n')
        while newline < 0 and not self.eof:
            self.fill(len(self.buffer) + (1 << 16))
            newline = self.buffer.find(b'\n')
        if newline < 0:
            if self.buffer:
                raise PayloadError('payload is truncated')
            return None
        data = bytes(self.buffer[:newline])
        del self.buffer[:newline + 1]
        return data

    def take(self, size):
        self.fill(size)
        if len(self.buffer) < size:
            return None
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data


def _header(data):
    try:
        header = json.loads(data.decode('utf-8'))
    except ValueError as exc:
        raise PayloadError('payload is corrupt: a record header is not JSON (%s)' % exc)
    if not isinstance(header, dict):
        raise PayloadError('payload is corrupt: a record header is a %s' % type(header).__name__)
    return header


def _check_version(header):
    if header.get('format') != FORMAT or header.get('version') != VERSION:
        raise PayloadError('not a %s version %d (found format %r, version %r): the action plugin and the module '
                           'come from different versions of the collection' % (FORMAT, VERSION, header.get('format'), header.get('version')))


def read_payload(path):
    """Yield the PayloadRecord of each phone in the payload file ``path``; PayloadError if it is
    not this format and version, or is cut short."""
    with open(path, 'rb') as handle:
        inflater = _Inflater(handle)
        first = True
        while True:
            data = inflater.line()
            if data is None:
                if first:
                    raise PayloadError('payload is empty')
                return
            header = _header(data)
            if first or 'format' in header or 'version' in header:  # every stream starts with the version line
                _check_version(header)
                first = False
                continue
            try:
                filename, mac, sha256, size = header['file'], header['mac'], header['sha256'], header['size']
            except KeyError as exc:
                raise PayloadError('payload is corrupt: a record has no %s' % exc)
            if not isinstance(size, int):
                raise PayloadError('payload is corrupt: the size of %s is %r' % (filename, size))
            content = None
            if size >= 0:
                content = inflater.take(size)
                if content is None:
                    raise PayloadError('payload is truncated inside %s' % filename)
            yield PayloadRecord(filename, mac, sha256, header.get('render'), content, bool(header.get('diff')))
