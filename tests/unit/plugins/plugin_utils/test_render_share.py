# -*- coding: utf-8 -*-
"""RenderShare: the profiles the hosts of one run render, shared through the run's local tmp."""

from __future__ import annotations

import os
import stat

from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_payload import PayloadWriter
from ansible_collections.phoneprov.mpp.plugins.plugin_utils.render_workers import RenderShare


def write_part(path, records):
    with open(path, 'wb') as handle, PayloadWriter(handle) as payload:
        for render, data in records:
            payload.add('f-%s.xml' % render, render, 'sha-' + render, render, content=data)
    return str(path)


def test_records_accumulate_and_stay_private(tmp_path):
    with RenderShare(str(tmp_path), 'a' * 64) as share:
        assert share.read() == {}
        share.add([write_part(tmp_path / 'p0', [('r1', b'one')]), write_part(tmp_path / 'p1', [('r2', b'two')])])
    with RenderShare(str(tmp_path), 'a' * 64) as share:
        share.add([write_part(tmp_path / 'p2', [('r3', b'three')])])
        assert share.read() == {'r1': ('sha-r1', b'one'), 'r2': ('sha-r2', b'two'), 'r3': ('sha-r3', b'three')}
    assert stat.S_IMODE(os.stat(share.path).st_mode) == 0o600
    assert not [name for name in os.listdir(str(tmp_path)) if name.endswith('.tmp')]


def test_another_push_digest_reads_nothing(tmp_path):
    with RenderShare(str(tmp_path), 'a' * 64) as share:
        share.add([write_part(tmp_path / 'p0', [('r1', b'one')])])
    with RenderShare(str(tmp_path), 'b' * 64) as share:
        assert share.read() == {}
