# -*- coding: utf-8 -*-
"""The phone_profiles manifest: what the module manages in the profile directory."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import time

import pytest

from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_manifest import (
    MANIFEST_VERSION, Manifest, ManifestError, ManifestLock, is_profile_name, load_manifest, lock_holder, save_manifest, sha256_file)
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_payload import PayloadRecord
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_staging import Staging

COLLECTIONS = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', '.build', 'collections')
HOLDER = '''import sys, time
sys.path.insert(0, sys.argv[1])
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_manifest import ManifestLock
lock = ManifestLock(sys.argv[2]).acquire()
print('locked', flush=True)
sys.stdin.read()
time.sleep(float(sys.argv[3]))
'''

NAME = '.phone_profiles.json'


def test_no_manifest_is_an_empty_one(tmp_path):
    assert load_manifest(str(tmp_path / NAME)) == {}
    assert Manifest(str(tmp_path), NAME).files == {}


def test_the_push_digest_is_kept_with_the_files(tmp_path):
    path = str(tmp_path / NAME)
    files = {'000e08000001.xml': {'mac': '000e08000001', 'sha256': 'a' * 64, 'stat': [1, 2, 3], 'render': None}}
    save_manifest(path, files, 0o640, push_digest='d' * 64)
    assert load_manifest(path, with_digest=True) == (files, 'd' * 64)
    assert load_manifest(path) == files
    assert Manifest(str(tmp_path), NAME).push_digest == 'd' * 64
    save_manifest(path, files, 0o640)  # a push without a digest forgets the old one
    assert Manifest(str(tmp_path), NAME).push_digest is None
    (tmp_path / NAME).write_text(json.dumps({'version': MANIFEST_VERSION, 'files': files, 'push_digest': 7}))
    assert Manifest(str(tmp_path), NAME).push_digest is None  # not a digest: never fresh


def test_save_and_load(tmp_path):
    path = str(tmp_path / NAME)
    files = {'000e08000001.xml': {'mac': '000e08000001', 'sha256': 'a' * 64, 'stat': [1, 2, 3], 'render': None}}
    save_manifest(path, files, 0o640)
    assert load_manifest(path) == files
    assert json.loads((tmp_path / NAME).read_text()) == {'version': MANIFEST_VERSION, 'files': files}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert [name for name in os.listdir(str(tmp_path)) if name != NAME] == []  # no temporary file left


@pytest.mark.parametrize('text, message', [
    ('{not json', 'is not valid JSON'),
    ('[]', 'is not a phone_profiles manifest version 1'),
    ('{"version": 2, "files": {}}', 'is not a phone_profiles manifest version 1'),
    ('{"version": 1, "files": []}', 'is not a phone_profiles manifest version 1'),
    ('{"version": 1}', 'is not a phone_profiles manifest version 1'),
])
def test_bad_manifests_are_refused_naming_the_file(tmp_path, text, message):
    path = tmp_path / NAME
    path.write_text(text)
    with pytest.raises(ManifestError) as caught:
        Manifest(str(tmp_path), NAME)
    assert str(path) in str(caught.value) and message in str(caught.value)


def test_a_recorded_file_is_vouched_for_until_it_changes(tmp_path):
    profile = tmp_path / '000e08000001.xml'
    profile.write_bytes(b'<flat-profile/>\n')
    sha = hashlib.sha256(b'<flat-profile/>\n').hexdigest()
    assert sha256_file(str(profile)) == sha
    manifest = Manifest(str(tmp_path), NAME)
    assert manifest.verified('000e08000001.xml')[0] is None  # on disk, not in the manifest
    assert manifest.verified('000e08000002.xml') == (None, None)  # not on disk
    manifest.record('000e08000001.xml', '000e08000001', sha, 'f' * 64)
    assert manifest.is_current('000e08000001.xml', '000e08000001', 'f' * 64)
    assert not manifest.is_current('000e08000001.xml', '000e08000001', 'e' * 64)
    manifest.save(0o600)
    again = Manifest(str(tmp_path), NAME)
    assert again.verified('000e08000001.xml')[0] == sha
    profile.write_bytes(b'<flat-profile>edited by hand</flat-profile>\n')
    assert again.verified('000e08000001.xml')[0] is None


@pytest.mark.parametrize('filename, valid', [
    ('000e08abcdef.xml', True),
    ('000E08ABCDEF.xml', True),
    ('cfg-00:0e:08:ab:cd:ef.cfg', True),
    ('000e08abcdef', True),
    ('../000e08abcdef.xml', False),
    ('/tmp/000e08abcdef.xml', False),
    ('sub/000e08abcdef.xml', False),
    ('.000e08abcdef.xml', False),
    ('000e08abcdef.xml/..', False),
    ('000e08000001.xml', False),  # another phone's name
    ('victim', False),
    ('.', False),
    ('..', False),
    ('', False),
])
def test_a_profile_name_is_one_file_named_by_the_rule(filename, valid):
    assert is_profile_name(filename, '000e08abcdef') is valid


def test_entries_that_are_not_profile_names_are_refused_on_load(tmp_path):
    good = {'mac': '000e08000001', 'sha256': 'a' * 64, 'stat': [1, 2, 3], 'render': None}
    files = {'000e08000001.xml': good, '../victim': dict(good), '/etc/passwd': dict(good), NAME: dict(good),
             '000e08000002.xml': 'not an entry', '000e08000003.xml': {'mac': 42}}
    save_manifest(str(tmp_path / NAME), files, 0o600)
    manifest = Manifest(str(tmp_path), NAME)
    assert manifest.files == {'000e08000001.xml': good}
    assert sorted(manifest.refused) == sorted(set(files) - {'000e08000001.xml'})
    assert manifest.refused[NAME] == 'names the manifest itself'
    assert 'not a profile file name' in manifest.refused['../victim']


def test_remove_deletes_only_the_unchanged_regular_file(tmp_path):
    outside = tmp_path / 'outside'
    outside.write_bytes(b'outside')
    dest = tmp_path / 'dest'
    dest.mkdir()
    names = dict((kind, '000e0800000%d.xml' % index) for index, kind in enumerate(('same', 'edited', 'link', 'dir', 'gone')))
    (dest / names['same']).write_bytes(b'<flat-profile/>')
    (dest / names['edited']).write_bytes(b'<flat-profile>edited</flat-profile>')
    (dest / names['link']).symlink_to(outside)
    (dest / names['dir']).mkdir()
    manifest = Manifest(str(dest), NAME)
    for kind, name in names.items():
        content = b'outside' if kind == 'link' else b'<flat-profile/>'
        manifest.files[name] = {'mac': name[:12], 'sha256': hashlib.sha256(content).hexdigest()}
    fd = os.open(str(dest), os.O_RDONLY | os.O_DIRECTORY)
    try:
        for check in (True, False):
            reasons = dict((kind, manifest.remove(name, fd, check)) for kind, name in names.items())
            assert reasons['same'] is None and reasons['gone'] is None
            assert 'changed' in reasons['edited'] and 'symbolic link' in reasons['link'] and 'directory' in reasons['dir']
            assert (dest / names['same']).exists() is check
    finally:
        os.close(fd)
    assert outside.read_bytes() == b'outside' and (dest / names['link']).is_symlink() and (dest / names['dir']).is_dir()
    assert (dest / names['edited']).read_bytes() == b'<flat-profile>edited</flat-profile>'


def hold_lock(dest, linger=0.0):
    """Another process holding the push lock of ``dest`` until its stdin is closed (plus ``linger`` s)."""
    holder = subprocess.Popen([sys.executable, '-c', HOLDER, COLLECTIONS, str(dest), str(linger)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == 'locked\n'
    return holder


def test_a_second_push_fails_naming_the_lock_and_its_holder(tmp_path):
    holder = hold_lock(tmp_path)
    try:
        assert lock_holder(str(tmp_path)) == holder.pid
        started = time.monotonic()
        with pytest.raises(ManifestError) as caught:
            ManifestLock(str(tmp_path), wait=0.3).acquire()
        assert 0.3 <= time.monotonic() - started < 2
        assert str(caught.value) == ('another phone_profiles push into %s holds its lock (flock on the directory, pid %d) and '
                                     'did not finish within 0.3 s; nothing was written: run the task again when it has finished'
                                     % (tmp_path, holder.pid))
    finally:
        holder.communicate('')
    assert lock_holder(str(tmp_path)) is None
    lock = ManifestLock(str(tmp_path), wait=0.3).acquire()
    assert lock_holder(str(tmp_path)) == os.getpid() and lock.acquired_ns <= time.time_ns()
    lock.release()
    assert lock_holder(str(tmp_path)) is None
    assert os.listdir(tmp_path) == []  # no lock file among the profiles


def test_the_lock_is_waited_for_a_short_while(tmp_path):
    holder = hold_lock(tmp_path, linger=0.3)
    holder.stdin.close()
    lock = ManifestLock(str(tmp_path), wait=5).acquire()  # the holder exits after 0.3 s
    assert holder.wait(5) == 0
    lock.release()


def test_a_directory_that_is_not_there_cannot_be_locked(tmp_path):
    with pytest.raises(ManifestError, match='cannot open %s/missing to lock it: No such file or directory' % tmp_path):
        ManifestLock(str(tmp_path / 'missing')).acquire()


def record(name, content):
    return PayloadRecord(name, name[:12], hashlib.sha256(content).hexdigest(), None, content, False)


def test_staged_files_appear_only_on_commit(tmp_path):
    (tmp_path / '000e08abcd01.xml').write_bytes(b'old')
    staging = Staging(0o640)
    for index in range(1, 4):
        name = '000e08abcd%02d.xml' % index
        staging.add(str(tmp_path / name), record(name, b'new %d' % index))
    staging.close()
    assert (tmp_path / '000e08abcd01.xml').read_bytes() == b'old' and not (tmp_path / '000e08abcd02.xml').exists()
    manifest = Manifest(str(tmp_path), NAME)
    for _tmp, _path, rec, st in staging.staged:
        manifest.record(rec.filename, rec.mac, rec.sha256, st=st)
    manifest_tmp = manifest.stage(manifest.files, 0o640)
    staging.commit()
    os.replace(manifest_tmp, manifest.path)
    again = Manifest(str(tmp_path), NAME)
    assert sorted(again.files) == ['000e08abcd01.xml', '000e08abcd02.xml', '000e08abcd03.xml']
    assert all(again.verified(name)[0] == hashlib.sha256(b'new %d' % i).hexdigest() for i, name in enumerate(sorted(again.files), 1))
    assert sorted(os.listdir(tmp_path)) == [NAME] + sorted(again.files)


def test_an_aborted_staging_leaves_the_directory_as_it_was(tmp_path):
    (tmp_path / '000e08abcd01.xml').write_bytes(b'old')
    staging = Staging(0o640, in_flight=2)
    staging.add(str(tmp_path / '000e08abcd01.xml'), record('000e08abcd01.xml', b'new'))
    with pytest.raises(OSError, match="No such file or directory: '%s/missing/000e08abcd02.xml'" % tmp_path):
        staging.add(str(tmp_path / 'missing' / '000e08abcd02.xml'), record('000e08abcd02.xml', b'new'))
    staging.abort()
    assert os.listdir(tmp_path) == ['000e08abcd01.xml'] and (tmp_path / '000e08abcd01.xml').read_bytes() == b'old'
