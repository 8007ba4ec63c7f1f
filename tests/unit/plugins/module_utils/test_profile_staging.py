# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Staging of new profiles: final mode and owner before any content, one flush, temporary names."""

from __future__ import annotations

import errno
import hashlib
import os
import stat

import pytest

from ansible_collections.phoneprov.mpp.plugins.module_utils import profile_staging
from ansible_collections.phoneprov.mpp.plugins.module_utils.files import temp_file_target
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_payload import PayloadRecord
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_staging import Staging


def record(name, content):
    return PayloadRecord(name, name[:12], hashlib.sha256(content).hexdigest(), None, content, False)


class SyncfsSpy(object):
    def __init__(self, error=None):
        self.calls, self.error = [], error

    def __call__(self, fd):
        self.calls.append(os.readlink('/proc/self/fd/%d' % fd))
        if self.error:
            raise OSError(self.error, os.strerror(self.error))


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield
    os.umask(old)


@pytest.mark.parametrize('syncfs', [SyncfsSpy(), None], ids=['one syncfs', 'fsync per file'])
def test_staged_files_get_their_mode_owner_and_stat_and_temporary_names(tmp_path, umask_027, syncfs):
    spy = syncfs
    staging = Staging(0o644, gid=os.getegid(), syncfs=spy, in_flight=2)
    for index in range(5):
        name = '000e08abcd%02d.xml' % index
        staging.add(str(tmp_path / name), record(name, b'profile %d' % index))
    staging.close()
    assert len(staging.staged) == 5
    for tmp, path, rec, st in staging.staged:
        assert temp_file_target(os.path.basename(tmp)) == os.path.basename(path)
        on_disk = os.lstat(tmp)
        # 0644 although the umask (027) takes the others' read bit from a new file
        assert stat.S_IMODE(on_disk.st_mode) == 0o644 and on_disk.st_gid == os.getegid()
        assert (st.st_size, st.st_mtime_ns, st.st_ino) == (on_disk.st_size, on_disk.st_mtime_ns, on_disk.st_ino)
        assert open(tmp, 'rb').read() == rec.content
    if spy is not None:
        assert spy.calls == [str(tmp_path)], 'one syncfs of the directory, for all files'
    staging.commit()
    assert sorted(os.listdir(tmp_path)) == ['000e08abcd%02d.xml' % index for index in range(5)]


@pytest.mark.skipif(os.geteuid() != 0, reason='changing a file group to one the user is not in needs root')
def test_a_file_is_private_until_it_has_the_group_asked_for(tmp_path, monkeypatch):
    seen = []
    real_fchown = os.fchown

    def fchown(fd, uid, gid):
        seen.append(stat.S_IMODE(os.fstat(fd).st_mode))
        real_fchown(fd, uid, gid)
    monkeypatch.setattr(profile_staging.os, 'fchown', fchown)
    staging = Staging(0o640, gid=4242, syncfs=SyncfsSpy())
    for index in range(3):
        staging.add(str(tmp_path / ('f%d.xml' % index)), record('f%d.xml' % index, b'x'))
    staging.close()
    assert seen == [0o600, 0o600, 0o600], 'chown-ed while still 0600, every file'
    assert all(os.lstat(tmp).st_gid == 4242 and stat.S_IMODE(os.lstat(tmp).st_mode) == 0o640 for tmp, *_rest in staging.staged)


def test_no_chown_when_new_files_already_have_the_owner(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(profile_staging.os, 'fchown', lambda *args: calls.append(args))
    staging = Staging(0o640, uid=os.geteuid(), gid=os.getegid(), syncfs=SyncfsSpy())
    for index in range(4):
        staging.add(str(tmp_path / ('f%d.xml' % index)), record('f%d.xml' % index, b'x'))
    staging.close()
    assert calls == []


def test_a_failed_flush_names_the_directory_and_abort_leaves_nothing(tmp_path):
    (tmp_path / 'f0.xml').write_bytes(b'old')
    staging = Staging(0o640, syncfs=SyncfsSpy(errno.EIO))
    staging.add(str(tmp_path / 'f0.xml'), record('f0.xml', b'new'))
    staging.add(str(tmp_path / 'f1.xml'), record('f1.xml', b'new'))
    with pytest.raises(OSError, match="Input/output error: '%s'" % tmp_path):
        staging.close()
    staging.abort()
    assert os.listdir(tmp_path) == ['f0.xml'] and (tmp_path / 'f0.xml').read_bytes() == b'old'


def test_a_taken_temporary_name_is_skipped(tmp_path):
    staging = Staging(0o640, syncfs=SyncfsSpy())
    taken = staging._temp_name(str(tmp_path / 'f0.xml'))  # pylint: disable=protected-access
    staging._serial -= 1  # pylint: disable=protected-access
    open(taken, 'wb').close()
    staging.add(str(tmp_path / 'f0.xml'), record('f0.xml', b'new'))
    staging.close()
    assert staging.staged[0][0] != taken and open(taken, 'rb').read() == b''


def test_syncfs_is_used_only_where_it_reports_errors(monkeypatch):
    monkeypatch.setattr(profile_staging.sys, 'platform', 'linux')
    monkeypatch.setattr(profile_staging.platform, 'release', lambda: '5.4.0-150-generic')
    assert profile_staging._load_syncfs() is None  # pylint: disable=protected-access
    monkeypatch.setattr(profile_staging.platform, 'release', lambda: '6.1.0-28-amd64')
    assert callable(profile_staging._load_syncfs())  # pylint: disable=protected-access
    monkeypatch.setattr(profile_staging.sys, 'platform', 'freebsd14')
    assert profile_staging._load_syncfs() is None  # pylint: disable=protected-access
