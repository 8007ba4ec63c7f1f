# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The manifest of phone_profiles: which files in the profile directory the module manages.

``<dest>/.phone_profiles.json`` (the module's ``manifest`` option) is
``{"version": 1, "files": {filename: entry}}``, each entry ``mac`` ($MA), ``sha256`` of the
file as written, ``stat`` (size, mtime_ns, inode) at that moment and ``render``, the render
fingerprint the controller sent (or null). A file whose stat data still match its entry has
that SHA-256 without being read again; only files listed here are ever pruned.

The manifest is data on the managed host, not trusted: an entry whose name is not a profile file
name this module could have written (one file in ``dest`` named by the file name rule around the
entry's MAC, not the manifest itself) is refused when loading (:attr:`Manifest.refused`), and
prune deletes, relative to the directory's descriptor, only a regular file whose SHA-256 is still
the entry's (:meth:`Manifest.remove`).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat

from ansible_collections.phoneprov.mpp.plugins.module_utils.files import atomic_write
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_filename import FilenameError, parse_filename
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_rule import EmulatorError, mac_macro_values

MANIFEST_VERSION = 1


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
    if not isinstance(filename, str) or not isinstance(mac, str):
        return False
    try:
        values = mac_macro_values(mac)
    except EmulatorError:
        return False
    for macro, value in values.items():
        if value in filename:
            try:
                parse_filename(filename.replace(value, '$(%s)' % macro, 1))
            except FilenameError:
                continue
            return True
    return False


def entry_problem(filename, entry, manifest_name):
    """Why a manifest entry cannot be one this module wrote, or None when it can."""
    if filename == manifest_name:
        return 'names the manifest itself'
    if not isinstance(entry, dict):
        return 'is not a manifest entry'
    if not is_profile_name(filename, entry.get('mac')):
        return 'is not a profile file name for MAC %r (one file in the directory, named by the file name rule)' % (entry.get('mac'),)
    return None


def stat_key(st):
    """What a manifest entry keeps of a file's stat data: a changed file has other values."""
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def load_manifest(path):
    """The manifest's ``files`` dict (filename -> entry), {} when there is none; ManifestError
    when the file is not a manifest of this version."""
    try:
        with open(path, 'rb') as handle:
            data = json.loads(handle.read().decode('utf-8'))
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise ManifestError('manifest %s is not valid JSON (%s); remove it to start over' % (path, exc))
    if not isinstance(data, dict) or data.get('version') != MANIFEST_VERSION or not isinstance(data.get('files'), dict):
        raise ManifestError('manifest %s is not a phone_profiles manifest version %d' % (path, MANIFEST_VERSION))
    return data['files']


def save_manifest(path, files, mode, uid=None, gid=None):
    """Write the manifest atomically (fsync-ed: it vouches for the files written before it)."""
    data = json.dumps({'version': MANIFEST_VERSION, 'files': files}, sort_keys=True, separators=(',', ':')).encode('utf-8')
    atomic_write(path, data, mode, uid=uid, gid=gid, fsync=True)


class Manifest(object):
    """The manifest of the directory ``dest``, loaded; ``files`` is its filename -> entry dict,
    ``refused`` filename -> why, of the entries that are not this module's (left out of ``files``)."""

    def __init__(self, dest, name):
        self.dest = dest
        self.path = os.path.join(dest, name)
        self.files, self.refused = {}, {}
        for filename, entry in load_manifest(self.path).items():
            problem = entry_problem(filename, entry, name)
            if problem:
                self.refused[filename] = problem
            else:
                self.files[filename] = entry

    def verified(self, filename):
        """(sha256, stat) of a managed file whose entry still matches, else (None, stat);
        (None, None) when there is no such file."""
        try:
            st = os.lstat(os.path.join(self.dest, filename))
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

    def record(self, filename, mac, sha256, render=None):
        """Enter the file as it is now on disk."""
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
        save_manifest(self.path, self.files, mode, uid, gid)
