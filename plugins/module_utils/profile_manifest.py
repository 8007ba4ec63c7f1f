# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The manifest of phone_profiles: which files in the profile directory the module manages.

``<dest>/.phone_profiles.json`` (the module's ``manifest`` option) is
``{"version": 1, "files": {filename: entry}, "push_digest": ...}``, each entry ``mac`` ($MA), ``sha256`` of the
file as written, ``stat`` (size, mtime_ns, inode) at that moment and ``render``, the render
fingerprint the controller sent (or null). A file whose stat data still match its entry has
that SHA-256 without being read again; only files listed here are ever pruned. ``push_digest``
(optional) is the controller's digest of everything the last successful push published: a push
with the same digest whose files all still verify has nothing to do.

The manifest is data on the managed host, not trusted: an entry whose name is not a profile file
name this module could have written (one file in ``dest`` named by the file name rule around the
entry's MAC, not the manifest itself) is refused when loading (:attr:`Manifest.refused`), and
prune deletes, relative to the directory's descriptor, only a regular file whose SHA-256 is still
the entry's (:meth:`Manifest.remove`).

One push at a time: a push that writes holds :class:`ManifestLock`, an exclusive ``flock`` on the
manifest's directory, and loads the manifest only once it holds the lock, so two pushes never
overwrite each other's manifest: the second waits ``LOCK_WAIT_SECONDS`` at most and fails naming
the directory and the pid holding its lock (:func:`lock_holder`).
"""

from __future__ import annotations

import atexit
import errno
import fcntl
import hashlib
import json
import os
import stat
import time

from ansible_collections.phoneprov.mpp.plugins.module_utils.files import atomic_write, stage_file
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_filename import FilenameError, parse_filename
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_rule import EmulatorError, mac_macro_value, mac_macro_values

MANIFEST_VERSION = 1
LOCK_WAIT_SECONDS = 2.0
_LOCK_POLL_SECONDS = 0.1


class ManifestError(ValueError):
    """A manifest file that cannot be read as this version of the format."""


def _sha256_handle(handle):
    digest = hashlib.sha256()
    for block in iter(lambda: handle.read(1 << 20), b''):
        digest.update(block)
    return digest.hexdigest()


def sha256_file(path):
    """SHA-256 (hex) of a file's content."""
    with open(path, 'rb') as handle:
        return _sha256_handle(handle)


def is_profile_name(filename, mac):
    """True when ``filename`` is what some file name pattern gives the phone ``mac``: the MAC in one
    of its macro spellings, around it only what the file name rule allows (so one plain file name)."""
    return _profile_pattern(filename, mac) is not None


def _profile_pattern(filename, mac):
    """(macro, prefix, suffix) of the file name pattern that gives ``filename`` for ``mac``, or None."""
    if not isinstance(filename, str) or not isinstance(mac, str):
        return None
    try:
        values = mac_macro_values(mac)
    except EmulatorError:
        return None
    for macro, value in values.items():
        if value in filename:
            try:
                parsed = parse_filename(filename.replace(value, '$(%s)' % macro, 1))
            except FilenameError:
                continue
            return macro, parsed.prefix, parsed.suffix
    return None


class ProfileNames(object):
    """:func:`is_profile_name` for a manifest's entries, which share one pattern: the pattern of the
    first entry is learnt, and an entry it gives in the same MAC spelling is answered without trying
    every spelling (any other entry goes through the whole rule)."""

    def __init__(self):
        self.learnt = None

    def check(self, filename, mac):
        if self.learnt is not None and type(filename) is str and type(mac) is str:  # pylint: disable=unidiomatic-typecheck
            macro, prefix, suffix = self.learnt
            try:
                if filename == prefix + mac_macro_value(mac, macro) + suffix:
                    return True
            except EmulatorError:
                return False
        pattern = _profile_pattern(filename, mac)
        if pattern is not None:
            self.learnt = pattern
        return pattern is not None


def entry_problem(filename, entry, manifest_name, names=None):
    """Why a manifest entry cannot be one this module wrote, or None when it can (``names``: a
    ProfileNames shared by the entries of one manifest)."""
    if filename == manifest_name:
        return 'names the manifest itself'
    if not isinstance(entry, dict):
        return 'is not a manifest entry'
    if not (names.check if names is not None else is_profile_name)(filename, entry.get('mac')):
        return 'is not a profile file name for MAC %r (one file in the directory, named by the file name rule)' % (entry.get('mac'),)
    return None


def stat_key(st):
    """What a manifest entry keeps of a file's stat data: a changed file has other values."""
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def load_manifest(path, with_digest=False):
    """The manifest's ``files`` dict (filename -> entry), {} when there is none; ManifestError
    when the file is not a manifest of this version. ``with_digest``: ``(files, push_digest)``."""
    try:
        with open(path, 'rb') as handle:
            data = json.loads(handle.read().decode('utf-8'))
    except FileNotFoundError:
        return ({}, None) if with_digest else {}
    except ValueError as exc:
        raise ManifestError('manifest %s is not valid JSON (%s); remove it to start over' % (path, exc))
    if not isinstance(data, dict) or data.get('version') != MANIFEST_VERSION or not isinstance(data.get('files'), dict):
        raise ManifestError('manifest %s is not a phone_profiles manifest version %d' % (path, MANIFEST_VERSION))
    if with_digest:
        digest = data.get('push_digest')
        return data['files'], digest if isinstance(digest, str) else None
    return data['files']


def manifest_bytes(files, push_digest=None):
    """The manifest file's content for the ``files`` dict (and the push digest, when there is one)."""
    data = {'version': MANIFEST_VERSION, 'files': files}
    if push_digest:
        data['push_digest'] = push_digest
    return json.dumps(data, sort_keys=True, separators=(',', ':')).encode('utf-8')


def save_manifest(path, files, mode, uid=None, gid=None, push_digest=None):
    """Write the manifest atomically (fsync-ed: it vouches for the files written before it)."""
    atomic_write(path, manifest_bytes(files, push_digest), mode, uid=uid, gid=gid, fsync=True)


def lock_holder(path):
    """The pid holding a ``flock`` on ``path`` (Linux ``/proc/locks``), or None when unknown."""
    try:
        st = os.stat(path)
        with open('/proc/locks') as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    inode = '%02x:%02x:%d' % (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
    for line in lines:
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF"; waiting requests are marked "->"
        if len(fields) >= 6 and fields[1] == 'FLOCK' and fields[4].isdigit() and fields[5] == inode:
            return int(fields[4])
    return None


class ManifestLock(object):
    """The exclusive ``flock`` on the directory ``dest`` itself a writing push holds (see the module's
    docstring; no lock file in a directory a web server serves). ``acquire`` waits at most ``wait``
    seconds, then raises ManifestError naming the directory and the pid holding the lock; ``release``
    (at the latest when the process exits) unlocks it."""

    def __init__(self, dest, wait=LOCK_WAIT_SECONDS):
        self.dest, self.wait = dest, wait
        self.fd = None
        self.acquired_ns = None

    def acquire(self):
        try:
            fd = os.open(self.dest, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise ManifestError('cannot open %s to lock it: %s' % (self.dest, exc.strerror))
        try:
            self._wait_for(fd)
        except BaseException:
            os.close(fd)
            raise
        self.fd, self.acquired_ns = fd, time.time_ns()
        atexit.register(self.release)
        return self

    def _wait_for(self, fd):
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise ManifestError('cannot lock %s (flock): %s' % (self.dest, exc.strerror))
            if time.monotonic() >= deadline:
                holder = lock_holder(self.dest)
                raise ManifestError('another phone_profiles push into %s holds its lock (flock on the directory, %s) and did '
                                    'not finish within %g s; nothing was written: run the task again when it has finished'
                                    % (self.dest, 'pid unknown' if holder is None else 'pid %d' % holder, self.wait))
            time.sleep(_LOCK_POLL_SECONDS)

    def release(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class Manifest(object):
    """The manifest of the directory ``dest``, loaded; ``files`` is its filename -> entry dict,
    ``refused`` filename -> why, of the entries that are not this module's (left out of ``files``)."""

    def __init__(self, dest, name):
        self.dest = dest
        self.path = os.path.join(dest, name)
        self.files, self.refused = {}, {}
        self.present, self._dir_fd = None, None
        files, self.push_digest = load_manifest(self.path, with_digest=True)
        names = ProfileNames()
        for filename, entry in files.items():
            problem = entry_problem(filename, entry, name, names)
            if problem:
                self.refused[filename] = problem
            else:
                self.files[filename] = entry

    def read_directory(self):
        """List the directory once, so that :meth:`verified` answers a name that is not there without
        a system call (a first push asks about every phone's file, none of them there yet)."""
        try:
            self.present = frozenset(os.listdir(self.dest))
        except OSError:
            self.present = None

    def _directory(self):
        """The directory, open once (names looked up relative to it: no path to join and walk
        per file, and no other directory swapped in under the same path half-way)."""
        if self._dir_fd is None:
            self._dir_fd = os.open(self.dest, os.O_RDONLY | getattr(os, 'O_DIRECTORY', 0))
            atexit.register(os.close, self._dir_fd)
        return self._dir_fd

    def verified(self, filename):
        """(sha256, stat) of a managed file whose entry still matches, else (None, stat);
        (None, None) when there is no such file."""
        if self.present is not None and filename not in self.present:
            return None, None
        try:
            st = os.stat(filename, dir_fd=self._directory(), follow_symlinks=False)
        except FileNotFoundError:
            return None, None
        entry = self.files.get(filename)
        if entry and entry.get('stat') == stat_key(st):
            return entry.get('sha256'), st
        return None, st

    def is_current(self, filename, mac, render):
        """True when the entry of ``filename`` already says this MAC, fingerprint and stat data."""
        entry = self.files.get(filename) or {}
        if entry.get('mac') != mac or entry.get('render') != render:
            return False
        return entry.get('stat') == stat_key(os.lstat(os.path.join(self.dest, filename)))

    def record(self, filename, mac, sha256, render=None, st=None):
        """Enter the file as it is now on disk (``st``: its stat data, e.g. of the temporary file
        a rename will make it; a rename keeps size, mtime and inode)."""
        if st is None:
            st = os.lstat(os.path.join(self.dest, filename))
        self.files[filename] = {'mac': mac, 'sha256': sha256, 'stat': stat_key(st), 'render': render}

    def remove(self, filename, dir_fd, check=False):
        """Delete the managed file ``filename`` in the directory open as ``dir_fd`` when it is still
        the regular file the entry describes (nothing in check mode). None when removed or already
        gone, else why it was left in place."""
        try:
            st = os.stat(filename, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        if stat.S_ISLNK(st.st_mode):
            return 'is a symbolic link'
        if stat.S_ISDIR(st.st_mode):
            return 'is a directory'
        if not stat.S_ISREG(st.st_mode):
            return 'is not a regular file'
        with os.fdopen(os.open(filename, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd), 'rb') as handle:
            opened = os.fstat(handle.fileno())
            sha = _sha256_handle(handle)
        if sha != self.files[filename].get('sha256'):
            return 'changed since this module wrote it (SHA-256 differs)'
        # The name must still be the file just hashed (not swapped in between).
        if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino) or \
                os.stat(filename, dir_fd=dir_fd, follow_symlinks=False).st_ino != st.st_ino:
            return 'changed while being checked'
        if not check:
            os.unlink(filename, dir_fd=dir_fd)
        return None

    def save(self, mode, uid=None, gid=None):
        save_manifest(self.path, self.files, mode, uid, gid, self.push_digest)

    def stage(self, files, mode, uid=None, gid=None, push_digest=None):
        """The manifest listing ``files`` (and ``push_digest``), written and fsync-ed to a temporary file
        beside it; its path (renaming it over the manifest is the caller's last step)."""
        return stage_file(self.path, manifest_bytes(files, push_digest), mode, uid=uid, gid=gid, fsync=True)
