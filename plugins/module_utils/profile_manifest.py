# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The manifest of phone_profiles: which files in the profile directory the module manages.

``<dest>/.phone_profiles.json`` (the module's ``manifest`` option) is
``{"version": 1, "files": {filename: entry}}``, each entry ``mac`` ($MA), ``sha256`` of the
file as written, ``stat`` (size, mtime_ns, inode) at that moment and ``render``, the render
fingerprint the controller sent (or null). A file whose stat data still match its entry has
that SHA-256 without being read again; only files listed here are ever pruned.
"""

from __future__ import annotations

import hashlib
import json
import os

from ansible_collections.phoneprov.mpp.plugins.module_utils.files import atomic_write

MANIFEST_VERSION = 1


class ManifestError(ValueError):
    """A manifest file that cannot be read as this version of the format."""


def sha256_file(path):
    """SHA-256 (hex) of a file's content."""
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


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
    """The manifest of the directory ``dest``, loaded; ``files`` is its filename -> entry dict."""

    def __init__(self, dest, name):
        self.dest = dest
        self.path = os.path.join(dest, name)
        self.files = load_manifest(self.path)

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

    def save(self, mode, uid=None, gid=None):
        save_manifest(self.path, self.files, mode, uid, gid)
