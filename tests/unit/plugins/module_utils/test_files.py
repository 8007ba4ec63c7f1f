# -*- coding: utf-8 -*-
"""Unit tests of module_utils/files.py: the atomic write and publish_file, with a real AnsibleModule."""

from __future__ import annotations

import json
import os
import pwd
import stat
import subprocess
import sys
import time

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.phoneprov.mpp.plugins.module_utils.files import (
    atomic_write, publish_file, read_bytes, remove_stale_temp_files, stage_file, temp_file_target)

COLLECTIONS = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', '.build', 'collections')

IS_ROOT = os.geteuid() == 0


def make_module(check_mode=False, diff=False, **params):
    """An AnsibleModule with the common file arguments, as the collection's modules build it."""
    args = dict(params, _ansible_check_mode=check_mode, _ansible_diff=diff)
    with patch_module_args(args):
        return AnsibleModule(argument_spec=dict(path=dict(type='path')), add_file_common_args=True,
                             supports_check_mode=True)


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def leftovers(directory):
    """Temporary files atomic_write left behind."""
    return [name for name in os.listdir(directory) if name.endswith('.tmp')]


def test_atomic_write_replaces_content_and_sets_mode(tmp_path):
    target = tmp_path / 'server.key'
    target.write_bytes(b'old')
    atomic_write(str(target), b'new', mode=0o640)
    assert target.read_bytes() == b'new'
    assert mode_of(target) == 0o640
    assert leftovers(tmp_path) == []


def test_atomic_write_failure_leaves_the_old_file(tmp_path):
    target = tmp_path / 'server.crt'
    target.write_bytes(b'old certificate')
    os.chmod(target, 0o644)
    with pytest.raises(TypeError):
        atomic_write(str(target), 'text, not bytes')  # the write into the temporary file fails
    assert target.read_bytes() == b'old certificate'
    assert mode_of(target) == 0o644
    assert leftovers(tmp_path) == []


def test_atomic_write_failure_in_a_missing_directory_writes_nothing(tmp_path):
    with pytest.raises(OSError):
        atomic_write(str(tmp_path / 'missing' / 'x.pem'), b'data')
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(not IS_ROOT, reason='chown to another user needs root')
def test_atomic_write_gives_owner_and_group_before_the_rename(tmp_path):
    nobody = pwd.getpwnam('nobody')
    target = tmp_path / 'client.key'
    atomic_write(str(target), b'key', mode=0o600, uid=nobody.pw_uid, gid=nobody.pw_gid)
    info = os.stat(target)
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (nobody.pw_uid, nobody.pw_gid, 0o600)


def test_publish_new_file_default_mode_not_the_umask_and_idempotent(tmp_path):
    target = str(tmp_path / 'server.csr')
    old_umask = os.umask(0o077)
    try:
        outcome = publish_file(make_module(path=target), target, 'CSR\n', default_mode=0o644)
    finally:
        os.umask(old_umask)
    assert outcome == {'changed': True, 'content_changed': True}
    assert read_bytes(target) == b'CSR\n'
    assert mode_of(target) == 0o644
    again = publish_file(make_module(path=target), target, b'CSR\n', default_mode=0o644)
    assert again == {'changed': False, 'content_changed': False}


def test_publish_keeps_the_mode_of_an_existing_file_and_applies_a_given_one(tmp_path):
    target = tmp_path / 'fullchain.crt'
    target.write_bytes(b'old')
    os.chmod(target, 0o640)
    publish_file(make_module(path=str(target)), str(target), b'new', default_mode=0o644)
    assert (target.read_bytes(), mode_of(target)) == (b'new', 0o640)
    # only the mode differs: changed, content unchanged
    outcome = publish_file(make_module(path=str(target), mode='0600'), str(target), b'new', default_mode=0o644)
    assert outcome == {'changed': True, 'content_changed': False}
    assert mode_of(target) == 0o600
    outcome = publish_file(make_module(path=str(target), mode='u=rw,g=r'), str(target), b'newer')
    assert outcome['changed'] is True and mode_of(target) == 0o640


@pytest.mark.skipif(not IS_ROOT, reason='chown to another user needs root')
def test_publish_owner_and_group(tmp_path):
    nobody = pwd.getpwnam('nobody')
    target = str(tmp_path / 'server.crt')
    module = make_module(path=target, owner='nobody', group=str(nobody.pw_gid))
    assert publish_file(module, target, b'cert')['changed'] is True
    info = os.stat(target)
    assert (info.st_uid, info.st_gid) == (nobody.pw_uid, nobody.pw_gid)
    assert publish_file(make_module(path=target, owner='nobody', group=str(nobody.pw_gid)), target, b'cert')['changed'] is False


def test_publish_backup_keeps_the_old_content(tmp_path):
    target = tmp_path / 'server.crt'
    target.write_bytes(b'old')
    outcome = publish_file(make_module(path=str(target)), str(target), b'new', backup=True)
    assert outcome['changed'] is True
    assert open(outcome['backup_file'], 'rb').read() == b'old'
    assert target.read_bytes() == b'new'
    # nothing replaced, nothing backed up
    assert 'backup_file' not in publish_file(make_module(path=str(target)), str(target), b'new', backup=True)


def test_publish_check_mode_writes_nothing_and_shows_the_diff(tmp_path):
    target = tmp_path / 'server.csr'
    target.write_bytes(b'old\n')
    os.chmod(target, 0o644)
    module = make_module(check_mode=True, diff=True, path=str(target), mode='0600')
    outcome = publish_file(module, str(target), b'new\n', backup=True)
    assert outcome['changed'] is True and 'backup_file' not in outcome
    assert outcome['diff'] == {'before_header': str(target), 'after_header': str(target), 'before': 'old\n', 'after': 'new\n'}
    assert (target.read_bytes(), mode_of(target)) == (b'old\n', 0o644)
    missing = tmp_path / 'new.csr'
    outcome = publish_file(make_module(check_mode=True, diff=True, path=str(missing)), str(missing), b'x\n')
    assert outcome['changed'] is True and outcome['diff']['before'] == ''
    assert not missing.exists()


def test_publish_diff_never_shows_sensitive_content(tmp_path):
    target = tmp_path / 'server.key'
    target.write_bytes(b'OLD KEY')
    outcome = publish_file(make_module(diff=True, path=str(target)), str(target), b'NEW KEY', sensitive=True,
                           diff_header='the key')
    assert outcome['diff'] == {'before_header': 'the key', 'after_header': 'the key',
                               'before': '(sensitive content)\n', 'after': '(sensitive content, changed)\n'}
    assert 'diff' not in publish_file(make_module(path=str(target)), str(target), b'NEWER KEY', sensitive=True)


def test_publish_into_a_missing_directory_fails_the_task(tmp_path, capsys):
    target = str(tmp_path / 'missing' / 'server.crt')
    with patch_module_args(dict(path=target)):  # fail_json needs the module's arguments still in place
        module = AnsibleModule(argument_spec=dict(path=dict(type='path')), add_file_common_args=True)
        with pytest.raises(SystemExit):
            publish_file(module, target, b'cert')
    failure = json.loads(capsys.readouterr().out)
    assert failure['failed'] is True
    assert failure['msg'] == 'destination directory %s does not exist' % os.path.dirname(target)


def run_limited(code, *args, limit=4096):
    """``code`` in a Python process whose files may not grow beyond ``limit`` octets (RLIMIT_FSIZE,
    SIGXFSZ ignored: a write past it fails with EFBIG, as a full disk fails with ENOSPC)."""
    prelude = ('import resource, signal, sys\nsys.path.insert(0, %r)\nsignal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n'
               'resource.setrlimit(resource.RLIMIT_FSIZE, (%d, %d))\n' % (str(COLLECTIONS), limit, limit))
    return subprocess.run([sys.executable, '-c', prelude + code] + [str(arg) for arg in args],
                          capture_output=True, text=True, check=False)


def test_a_failed_stage_names_the_final_file_and_leaves_nothing(tmp_path):
    target = tmp_path / '000e08abcdef.xml'
    target.write_bytes(b'old')
    run = run_limited('from ansible_collections.phoneprov.mpp.plugins.module_utils.files import atomic_write\n'
                      'try:\n    atomic_write(sys.argv[1], b"x" * 100000, 0o640)\n'
                      'except OSError as exc:\n    print(exc)\n', target)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[Errno 27] File too large: '%s'" % target
    assert os.listdir(tmp_path) == ['000e08abcdef.xml'] and target.read_bytes() == b'old'


def test_stage_file_writes_a_private_temporary_file_of_ours(tmp_path):
    target = tmp_path / 'a.xml'
    tmp = stage_file(str(target), b'new', 0o640)
    assert not target.exists() and open(tmp, 'rb').read() == b'new' and mode_of(tmp) == 0o640
    assert temp_file_target(os.path.basename(tmp)) == 'a.xml'


@pytest.mark.parametrize('name, target', [
    ('.000e08abcdef.xml.k2x9_q0a.tmp', '000e08abcdef.xml'),
    ('..phone_profiles.json.abcdefgh.tmp', '.phone_profiles.json'),
    ('.000e08abcdef.xml.k2x9_q0.tmp', None),  # 7 characters: not mkstemp's
    ('.000e08abcdef.xml.K2X9_Q0A.tmp', None),
    ('000e08abcdef.xml.k2x9_q0a.tmp', None),
    ('.phone_profiles.json.lock', None),
])
def test_temp_file_names_are_recognised(name, target):
    assert temp_file_target(name) == target


def test_stale_temp_files_only_ours_regular_and_older(tmp_path):
    outside = tmp_path / 'outside'
    outside.write_text('not in the directory')
    dest = tmp_path / 'dest'
    dest.mkdir()
    stale = ['.a.xml.aaaaaaaa.tmp', '.b.xml.bbbbbbbb.tmp', '..m.json.cccccccc.tmp']
    for name in stale + ['.other.xml.dddddddd.tmp', 'a.xml', '.m.json.lock']:
        (dest / name).write_text(name)
    (dest / '.a.xml.linklink.tmp').symlink_to(outside)
    (dest / '.b.xml.dirdir00.tmp').mkdir()
    cutoff = time.time_ns()
    os.utime(dest / '.b.xml.bbbbbbbb.tmp', ns=(cutoff + 10 ** 9, cutoff + 10 ** 9))  # written by the running push
    removed = remove_stale_temp_files(str(dest), {'a.xml', 'b.xml', '.m.json'}, cutoff)
    assert removed == ['..m.json.cccccccc.tmp', '.a.xml.aaaaaaaa.tmp']
    assert sorted(os.listdir(dest)) == ['.a.xml.linklink.tmp', '.b.xml.bbbbbbbb.tmp', '.b.xml.dirdir00.tmp', '.m.json.lock',
                                        '.other.xml.dddddddd.tmp', 'a.xml']
    assert outside.read_text() == 'not in the directory'
