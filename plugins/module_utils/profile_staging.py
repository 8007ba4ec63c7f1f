# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""phone_profiles' publishing in two steps, so a failed push leaves the published set as it was.

1. :meth:`Staging.add` writes each new profile to a temporary file beside its final name
   (module_utils/files.py ``stage_file``: owner, group and mode set, fsync-ed), on a few threads
   (create and fsync are mostly waiting on the filesystem). Any failure (a full disk, say) and
   :meth:`Staging.abort` removes every temporary file: no profile and no manifest changed.
2. :meth:`Staging.commit` renames them all into place; the caller then flushes the directory and
   only then replaces the manifest (see the module's ``Publisher.commit``). Renames allocate no data,
   so what fails here is rare (an I/O error); a rerun completes such a push.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.phoneprov.mpp.plugins.module_utils.files import stage_file

STAGE_THREADS = 4
IN_FLIGHT = 256


class Staging(object):
    """The new profiles of one push: ``staged`` holds ``(temporary path, final path, record, stat)``
    of each file written, ``record`` being the payload's PayloadRecord."""

    def __init__(self, mode, uid=None, gid=None, threads=STAGE_THREADS, in_flight=IN_FLIGHT):
        self.mode, self.uid, self.gid = mode, uid, gid
        self.pool = ThreadPoolExecutor(max_workers=threads)
        self.pending, self.staged = [], []
        self.in_flight = in_flight
        self.committed = 0

    def _stage(self, path, record):
        tmp = stage_file(path, record.content, self.mode, uid=self.uid, gid=self.gid, fsync=True)
        return tmp, path, record, os.lstat(tmp)

    def add(self, path, record):
        """Stage ``record.content`` for ``path``; the first error of the writes so far is raised."""
        self.pending.append(self.pool.submit(self._stage, path, record))
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

    def close(self):
        """Wait for every write; raise the first error."""
        try:
            self._drain()
        finally:
            self.pool.shutdown(wait=True)

    def abort(self):
        """Remove every temporary file not yet renamed into place."""
        try:
            self.close()
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
