# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""phone_profiles' publishing in two steps, so a failed push leaves the published set as it was.

1. :meth:`Staging.add` writes each new profile to a temporary file beside its final name
   (``.<name>.<8 hex>.tmp``, the temporary names of module_utils/files.py), created with its final
   mode and given owner and group before any content, so it never has wider permissions than asked
   for. :meth:`Staging.close` then makes them durable. Any failure (a full disk, say) and
   :meth:`Staging.abort` removes every temporary file: no profile and no manifest changed.
2. :meth:`Staging.commit` renames them all into place; the caller then flushes the directory and
   only then replaces the manifest (see the module's ``Publisher.commit``). Renames allocate no data,
   so what fails here is rare (an I/O error); a rerun completes such a push.

Why it looks like this: a first push creates tens of thousands of files, and each system call
counts. Where the kernel's ``syncfs`` reports write-back errors (Linux 5.8 and later), the files
are written in this thread with as few calls as a file can take (open with the final mode, write,
fstat, close; chmod only when the umask took bits away, chown only when the new file's owner or
group is not the one asked for) and one ``syncfs`` flushes them all: one journal commit where an
fsync per file costs one each. Elsewhere each file is fsync-ed as before, on a few threads
(create and fsync are mostly waiting on the filesystem).
"""

from __future__ import annotations

import ctypes
import os
import platform
import random
import re
import sys
from concurrent.futures import ThreadPoolExecutor

STAGE_THREADS = 4
IN_FLIGHT = 256
_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_CLOEXEC', 0) | getattr(os, 'O_NOFOLLOW', 0)
_NAME_ATTEMPTS = 100


def _load_syncfs():
    """``syncfs(fd)`` raising OSError, where it reports write-back errors (Linux >= 5.8); else None."""
    if not sys.platform.startswith('linux'):
        return None
    release = re.match(r'(\d+)\.(\d+)', platform.release())
    if not release or tuple(int(part) for part in release.groups()) < (5, 8):
        return None  # older kernels' syncfs returns 0 even when write-back failed
    try:
        function = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    function.argtypes, function.restype = [ctypes.c_int], ctypes.c_int

    def syncfs(fd):
        if function(fd) != 0:
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error))
    return syncfs


SYNCFS = _load_syncfs()


def current_umask():
    """The process's umask (set back at once; called before any thread of the staging runs)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


class Staging(object):
    """The new profiles of one push: ``staged`` holds ``(temporary path, final path, record, stat)``
    of each file written, ``record`` being the payload's PayloadRecord.

    ``syncfs`` (default: the kernel's, where it reports errors) flushes the files at :meth:`close`;
    None fsyncs each file on ``threads`` threads instead."""

    def __init__(self, mode, uid=None, gid=None, threads=STAGE_THREADS, in_flight=IN_FLIGHT, syncfs=SYNCFS):
        self.mode, self.uid, self.gid = mode, uid, gid
        self.syncfs = syncfs
        self.pool = None if syncfs else ThreadPoolExecutor(max_workers=threads)
        self.pending, self.staged = [], []
        self.in_flight = in_flight
        self.committed = 0
        self._serial = random.getrandbits(32)  # temporary names count up from here (O_EXCL still decides)
        self._umask = current_umask()
        self._owner_known = False   # learnt from the first file: does a new file need a chown?
        self._needs_chown = True

    def _temp_name(self, path):
        self._serial = (self._serial + 1) & 0xffffffff
        return '%s.%08x.tmp' % (os.path.join(os.path.dirname(path), '.' + os.path.basename(path)), self._serial)

    def _create(self, path):
        """A new temporary file for ``path``: (fd, temporary path), mode 0600 while the owner may change."""
        private = self._needs_chown or not self._owner_known
        for _attempt in range(_NAME_ATTEMPTS):
            tmp = self._temp_name(path)
            try:
                return os.open(tmp, _OPEN_FLAGS, 0o600 if private else self.mode & 0o777), tmp
            except FileExistsError:
                self._serial = random.getrandbits(32)
        raise FileExistsError(17, 'no free temporary file name after %d attempts' % _NAME_ATTEMPTS, path)

    def _stage(self, path, record, fsync):
        fd, tmp = None, None
        try:
            fd, tmp = self._create(path)
            if not self._owner_known or self._needs_chown:
                self._set_owner(fd)
                os.fchmod(fd, self.mode)
            elif self.mode & self._umask or self.mode & ~0o777:
                os.fchmod(fd, self.mode)  # bits the umask took away, or set-id/sticky bits
            view = memoryview(record.content)
            while view:
                view = view[os.write(fd, view):]
            if fsync:
                os.fsync(fd)
            st = os.fstat(fd)
            os.close(fd)
            fd = None
        except BaseException as exc:
            if fd is not None:
                os.close(fd)
            if tmp is not None and os.path.lexists(tmp):
                os.unlink(tmp)
            if isinstance(exc, OSError):  # named by the file it was for, not by a temporary name
                raise OSError(exc.errno, exc.strerror, path) from exc
            raise
        return tmp, path, record, st

    def _set_owner(self, fd):
        """chown to the owner and group asked for; after the first file, only when new files need it."""
        if self.uid is None and self.gid is None:
            self._owner_known, self._needs_chown = True, False
            return
        st = os.fstat(fd)
        wanted_uid = st.st_uid if self.uid is None else self.uid
        wanted_gid = st.st_gid if self.gid is None else self.gid
        if (st.st_uid, st.st_gid) != (wanted_uid, wanted_gid):
            os.fchown(fd, wanted_uid, wanted_gid)
            needs = True
        else:
            needs = False
        if not self._owner_known:
            self._owner_known, self._needs_chown = True, needs

    def add(self, path, record):
        """Stage ``record.content`` for ``path``; the first error of the writes so far is raised."""
        if self.pool is None:
            self.staged.append(self._stage(path, record, False))
            return
        if not self._owner_known:  # the first file decides whether the others need a chown
            self.staged.append(self._stage(path, record, True))
            return
        self.pending.append(self.pool.submit(self._stage, path, record, True))
        if len(self.pending) >= self.in_flight:
            self._drain()

    def _drain(self):
        pending, self.pending = self.pending, []
        error = None
        for future in pending:
            try:
                self.staged.append(future.result())
            except Exception as exc:  # pylint: disable=broad-except
                error = error or exc
        if error is not None:
            raise error

    def _wait(self):
        try:
            self._drain()
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=True)

    def close(self):
        """Wait for every write and make the files durable; raise the first error."""
        self._wait()
        if self.syncfs and self.staged[self.committed:]:
            directory = os.path.dirname(self.staged[-1][0]) or '.'
            fd = os.open(directory, os.O_RDONLY | getattr(os, 'O_DIRECTORY', 0))
            try:
                self.syncfs(fd)
            except OSError as exc:
                raise OSError(exc.errno, exc.strerror, directory) from exc
            finally:
                os.close(fd)

    def abort(self):
        """Remove every temporary file not yet renamed into place."""
        try:
            self._wait()
        except Exception:  # pylint: disable=broad-except
            pass  # the caller reports the first error already
        for tmp, _path, _record, _st in self.staged[self.committed:]:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass

    def commit(self):
        """Rename every staged file to its final name."""
        for tmp, path, _record, _st in self.staged[self.committed:]:
            os.replace(tmp, path)
            self.committed += 1
