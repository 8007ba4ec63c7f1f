# -*- coding: utf-8 -*-
"""phone_profiles' push under faults, through real ansible-playbook runs: a second push while one
holds the lock, a full disk (a real tmpfs), the temporary files of an interrupted push."""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import subprocess
import sys
import time

import pytest

from mpp_harness import COLLECTIONS, playbook_text, stop_process

if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))

from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_manifest import Manifest, lock_holder, sha256_file
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_payload import PayloadWriter

MODULE = COLLECTIONS / 'ansible_collections' / 'phoneprov' / 'mpp' / 'plugins' / 'modules' / 'phone_profiles.py'
MANIFEST = '.phone_profiles.json'
TEMPLATE = """<flat-profile>
  <User_ID_1_>{{ phone.user }}</User_ID_1_>
  <Text_Logo>{{ phone.note | default('') }}</Text_Logo>
</flat-profile>
"""


def phones(count, note=''):
    return [{'mac': '02:00:00:00:00:%02x' % i, 'user': str(1000 + i), 'note': note} for i in range(1, count + 1)]


def ma(phone):
    return phone['mac'].replace(':', '')


def push(dest, template, **options):
    args = dict({'phones': '{{ fleet }}', 'dest': str(dest), 'template': str(template), 'prune': True}, **options)
    return playbook_text([{'name': 'push', 'phoneprov.mpp.phone_profiles': args}])


@pytest.fixture
def template(tmp_path):
    path = tmp_path / 'profile.xml.j2'
    path.write_text(TEMPLATE)
    return path


def contents(dest):
    """name -> (content, inode) of every entry of dest: replaced files have another inode."""
    return dict((name, ((dest / name).read_bytes(), (dest / name).lstat().st_ino)) for name in sorted(os.listdir(dest)))


def assert_manifest_consistent(dest):
    """The manifest lists exactly the profiles in dest, each with its current SHA-256."""
    manifest = Manifest(str(dest), MANIFEST)
    assert not manifest.refused
    profiles = sorted(name for name in os.listdir(dest) if name.endswith('.xml'))
    assert sorted(manifest.files) == profiles
    for name in profiles:
        assert manifest.files[name]['sha256'] == sha256_file(str(dest / name)), name
    return manifest


def payload_bytes(records):
    buffer = io.BytesIO()
    with PayloadWriter(buffer) as writer:
        for filename, content in records:
            writer.add(filename, filename[:12], hashlib.sha256(content).hexdigest(), content=content)
    return buffer.getvalue()


def test_a_second_push_fails_while_the_first_holds_the_lock(playbook, tmp_path, template):
    """The first push is the module itself (what ansible-playbook runs on the host) reading its
    payload from a FIFO, so it holds the lock, its manifest read, until the test feeds it."""
    dest = tmp_path / 'docroot'
    dest.mkdir()
    assert playbook(push(dest, template), extra_vars={'fleet': phones(3)}).rc == 0
    fifo = tmp_path / 'payload'
    os.mkfifo(fifo)
    args = tmp_path / 'args.json'
    args.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': {'phones': [], 'dest': str(dest), 'payload': str(fifo), 'prune': True}}))
    first = subprocess.Popen([sys.executable, str(MODULE), str(args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ, PYTHONPATH=str(COLLECTIONS)))
    try:
        deadline = time.monotonic() + 10  # the module takes its lock within a second of starting
        while lock_holder(str(dest)) != first.pid and time.monotonic() < deadline:
            assert first.poll() is None, 'the first push ended before it read its payload'
            time.sleep(0.05)
        second = playbook(push(dest, template), extra_vars={'fleet': phones(5)})
        assert second.rc != 0, 'the second push went through while the first was publishing'
        msg = second.task('push')['msg']
        assert 'another phone_profiles push into %s holds its lock (flock on the directory, pid %d)' % (dest, first.pid) in msg, msg
        assert 'nothing was written' in msg
        assert sorted(os.listdir(dest)) == [MANIFEST, '020000000001.xml', '020000000002.xml', '020000000003.xml']
        first_records = [('020000000001.xml', b'<flat-profile/>\n'), ('020000000004.xml', b'<flat-profile><x/></flat-profile>\n')]
        with open(fifo, 'wb') as handle:
            handle.write(payload_bytes(first_records))
        out, err = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            stop_process(first)
        # A FIFO left behind blocks whoever opens it later (the real-servers test reads every file under /tmp).
        os.unlink(fifo)
    assert first.returncode == 0, err
    result = json.loads(out)
    assert (result['created'], result['updated'], sorted(result['removed'])) == (['020000000004'], ['020000000001'],
                                                                                 ['020000000002', '020000000003'])
    manifest = assert_manifest_consistent(dest)
    assert sorted(manifest.files) == ['020000000001.xml', '020000000004.xml']
    # Once the first has finished, the second goes through on the first's manifest.
    again = playbook(push(dest, template), extra_vars={'fleet': phones(5)})
    assert again.rc == 0, again.stdout[-3000:]
    result = again.task('push')
    assert (sorted(result['created']), sorted(result['updated']), result['removed']) == (
        ['020000000002', '020000000003', '020000000005'], ['020000000001', '020000000004'], [])
    assert sorted(assert_manifest_consistent(dest).files) == ['0200000000%02d.xml' % i for i in range(1, 6)]


def require_root():
    if os.geteuid() != 0:
        if os.environ.get('CI') == 'true':
            pytest.fail('mounting a tmpfs needs root')
        pytest.skip('mounting a tmpfs needs root')


def fill(disk, leave):
    """Fill the file system of ``disk`` but ``leave`` octets (in pages)."""
    with open(disk / 'filler', 'wb', buffering=0) as handle:
        try:
            while True:
                handle.write(b'\0' * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        handle.truncate(max(handle.tell() - leave, 0))


def test_a_full_disk_fails_naming_the_file_and_publishes_nothing(playbook, tmp_path, template):
    require_root()
    disk = tmp_path / 'disk'
    disk.mkdir()
    subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=1m,mode=0755', 'tmpfs', str(disk)], check=True)
    try:
        dest = disk / 'docroot'
        dest.mkdir()
        assert playbook(push(dest, template), extra_vars={'fleet': phones(20)}).rc == 0
        before = contents(dest)
        fill(disk, leave=8 * 4096)
        big = phones(20, note='x' * 6000)  # two pages each: the fifth does not fit
        run = playbook(push(dest, template), extra_vars={'fleet': big})
        assert run.rc != 0
        msg = run.task('push')['msg']
        assert "No space left on device: '%s/0200000000" % dest in msg and ".xml'" in msg, msg
        assert 'nothing was published: the profiles and the manifest are as they were' in msg
        assert contents(dest) == before  # no profile, manifest or temporary file changed
        assert_manifest_consistent(dest)

        # Room again, and what an interrupted push leaves: only its own regular temporary files go.
        os.unlink(disk / 'filler')
        outside = disk / 'outside'
        outside.write_text('keep me')
        stale = ['.020000000001.xml.abcd_123.tmp', '..phone_profiles.json.zz99aa00.tmp', '.020000000015.xml.qwertyui.tmp']  # phone 21: created by this push
        for name in stale + ['.unmanaged.xml.abcd_123.tmp']:
            (dest / name).write_text('left by an interrupted push')
        (dest / '.020000000002.xml.linklink.tmp').symlink_to(outside)
        (dest / '.020000000003.xml.dirdir00.tmp').mkdir()
        wanted = phones(21, note='y' * 6000)
        run = playbook(push(dest, template), extra_vars={'fleet': wanted})
        assert run.rc == 0, run.stdout[-3000:]
        result = run.task('push')
        assert result['counts'] == {'created': 1, 'updated': 20, 'removed': 0, 'unchanged': 0, 'total': 21}
        assert result['removed_temp_files'] == sorted(stale)
        assert sorted(name for name in os.listdir(dest) if name.endswith('.tmp')) == [
            '.020000000002.xml.linklink.tmp', '.020000000003.xml.dirdir00.tmp', '.unmanaged.xml.abcd_123.tmp']
        assert outside.read_text() == 'keep me'
        assert len(assert_manifest_consistent(dest).files) == 21
    finally:
        subprocess.run(['umount', str(disk)], check=True)


def test_a_weak_profile_key_is_refused_naming_the_phone(playbook, tmp_path, template):
    dest = tmp_path / 'docroot'
    dest.mkdir()
    fleet = [dict(phone, key='0123456789abcdef' * 2) for phone in phones(3)]
    fleet[1]['key'] = 'Weak-Key-2'
    run = playbook(push(dest, template, encrypt='aes-256-cbc'), extra_vars={'fleet': fleet})
    assert run.rc != 0
    msg = run.task('push')['msg']
    assert msg.startswith('phone #2 (mac 02:00:00:00:00:02): key: the key is too weak for aes-256-cbc: 10 characters'), msg
    assert 'Weak-Key-2' not in run.stdout + run.stderr and os.listdir(dest) == []
    warned = playbook(push(dest, template, encrypt='aes-256-cbc', weak_keys='warn'), extra_vars={'fleet': fleet})
    assert warned.rc == 0 and sorted(warned.task('push')['created']) == [ma(phone) for phone in fleet]
    assert '1 phones have a profile key under 128 bits (weak_keys=warn): 020000000002' in warned.stderr + warned.stdout
    assert 'Weak-Key-2' not in warned.stdout + warned.stderr
