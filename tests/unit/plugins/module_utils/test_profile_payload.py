# -*- coding: utf-8 -*-
"""The payload between phone_profiles' action and module: what one writes the other reads."""

from __future__ import annotations

import json
import zlib

import pytest

from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_payload import (
    FORMAT, VERSION, PayloadError, PayloadRecord, PayloadWriter, read_payload)


def write_parts(path, parts):
    """One zlib stream per part, back to back, as the render workers' parts are joined."""
    with open(path, 'wb') as handle:
        for records in parts:
            with PayloadWriter(handle) as writer:
                for record in records:
                    writer.add(*record)


def test_round_trip_over_several_streams(tmp_path):
    big = bytes(range(256)) * 5000  # more than one read block, and not compressible to nothing
    parts = [
        [('000e08000001.xml', '000e08000001', 'a' * 64, 'f' * 64, b'<flat-profile/>\n', True),
         ('000e08000002.xml', '000e08000002', 'b' * 64, None, None, False)],
        [],  # a worker with no phones still writes its stream
        [('000e08000003.xml', '000e08000003', 'c' * 64, 'e' * 64, big, False),
         ('000e08000004.xml', '000e08000004', 'd' * 64, None, b'', False)],
    ]
    path = tmp_path / 'payload'
    write_parts(path, parts)
    assert list(read_payload(str(path))) == [
        PayloadRecord('000e08000001.xml', '000e08000001', 'a' * 64, 'f' * 64, b'<flat-profile/>\n', True),
        PayloadRecord('000e08000002.xml', '000e08000002', 'b' * 64, None, None, False),
        PayloadRecord('000e08000003.xml', '000e08000003', 'c' * 64, 'e' * 64, big, False),
        PayloadRecord('000e08000004.xml', '000e08000004', 'd' * 64, None, b'', False),
    ]


def test_records_have_named_fields_and_a_version_line(tmp_path):
    path = tmp_path / 'payload'
    write_parts(path, [[('x.xml', '000e08000001', 's' * 64, 'r' * 64, b'<p/>', True)]])
    lines = zlib.decompress(path.read_bytes()).split(b'\n')
    assert json.loads(lines[0]) == {'format': FORMAT, 'version': VERSION}
    assert json.loads(lines[1]) == {'file': 'x.xml', 'mac': '000e08000001', 'sha256': 's' * 64, 'render': 'r' * 64,
                                    'size': 4, 'diff': True}
    assert lines[2] == b'<p/>'


def compressed(*lines):
    return zlib.compress(b''.join(json.dumps(line).encode('utf-8') + b'\n' for line in lines))


RECORD = {'file': 'x.xml', 'mac': '000e08000001', 'sha256': 's' * 64, 'size': -1}


@pytest.mark.parametrize('data, message', [
    (compressed({'format': FORMAT, 'version': VERSION + 1}, RECORD), 'version 1 (found format %r, version 2)' % FORMAT),
    (compressed({'format': 'something else', 'version': 1}, RECORD), "found format 'something else'"),
    (compressed(RECORD), 'version 1 (found format None, version None)'),  # the old single-letter records had no version
    (compressed({'format': FORMAT, 'version': VERSION}, RECORD) + compressed({'version': 0}), 'version 1'),
    (b'this is no zlib stream at all', 'payload is corrupt'),
    (zlib.compress(b'{"format": "\n'), 'payload is corrupt: a record header is not JSON'),
    (compressed({'format': FORMAT, 'version': VERSION}, ['a', 'list']), 'a record header is a list'),
    (compressed({'format': FORMAT, 'version': VERSION}, {'file': 'x.xml', 'size': -1}), "a record has no 'mac'"),
    (compressed({'format': FORMAT, 'version': VERSION}, dict(RECORD, size='12')), "the size of x.xml is '12'"),
    (compressed({'format': FORMAT, 'version': VERSION}, dict(RECORD, size=10)) + b'', 'payload is truncated inside x.xml'),
    (zlib.compress(json.dumps({'format': FORMAT, 'version': VERSION}).encode('utf-8')), 'payload is truncated'),
    (b'', 'payload is empty'),
])
def test_other_versions_and_garbage_are_refused(tmp_path, data, message):
    path = tmp_path / 'payload'
    path.write_bytes(data)
    with pytest.raises(PayloadError) as caught:
        list(read_payload(str(path)))
    assert message in str(caught.value), str(caught.value)


def test_a_cut_stream_is_refused(tmp_path):
    path = tmp_path / 'payload'
    write_parts(path, [[('x.xml', '000e08000001', 's' * 64, None, b'<flat-profile/>' * 100, False)]])
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(PayloadError, match='truncated'):
        list(read_payload(str(path)))
