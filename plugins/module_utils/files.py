# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Atomic, idempotent file publishing for the collection's modules.

A file is written to a temporary file in the destination directory, given its final mode
while still private, flushed and renamed over the old one: a reader sees the old file or
the new one, never a part, and a private key is never readable by others, not even for a
moment (``AnsibleModule.atomic_move`` applies the umask to new files before we could chmod).

Temporary files are named ``.<final name>.<8 random characters>.tmp`` (``tempfile.mkstemp``;
:func:`temp_file_target` recognises them), so the next run can remove those an interrupted one
left behind (:func:`remove_stale_temp_files`). A failed write raises OSError naming the final file.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile

from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text


# tempfile.mkstemp's names: prefix, 8 characters of its alphabet, suffix.
_TEMP_NAME = re.compile(r'^\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp$')


def temp_file_target(name):
    """The final file name a temporary file named ``name`` was for, or None if it is not one of ours."""
    match = _TEMP_NAME.match(name)
    return match.group('target') if match else None


def read_bytes(path):
    """The content of ``path``, or None when it does not exist."""
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _mode_bits(module, mode, path):
    """Numeric permission bits for a ``mode`` option (octal string, int or symbolic)."""
    if mode is None:
        return None
    if isinstance(mode, int):
        return mode
    try:
        return int(mode, 8)
    except ValueError:
        current = os.stat(path).st_mode if os.path.exists(path) else 0o600
        return module._symbolic_mode_to_octal(os.stat_result((current,) + (0,) * 9), mode)  # pylint: disable=protected-access


def stage_file(path, content, mode=0o600, uid=None, gid=None, fsync=True):
    """Write ``content`` (bytes) to a new temporary file beside ``path``; its path.

    The file is created 0600, chown-ed to ``uid``/``gid`` (when given, -1 or None keeps the
    current one) and chmod-ed to ``mode``, so once renamed to ``path`` it never had wider
    permissions than asked for. ``fsync`` flushes it to disk. On failure nothing is left behind
    and the OSError names ``path`` (a full disk: ``No space left on device: '<path>'``).
    """
    directory = os.path.dirname(os.path.abspath(path)) or '.'
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), suffix='.tmp', dir=directory)
        with os.fdopen(fd, 'wb') as handle:
            handle.write(content)
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
            if uid is not None or gid is not None:
                os.fchown(handle.fileno(), -1 if uid is None else uid, -1 if gid is None else gid)
            os.fchmod(handle.fileno(), mode)
    except BaseException as exc:
        if tmp is not None and os.path.lexists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError):  # named by the file it was for, not by a temporary name
            raise OSError(exc.errno, exc.strerror, path) from exc
        raise
    return tmp


def fsync_directory(directory):
    """Flush a directory's entries (names created, renamed or removed) to disk."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path, content, mode=0o600, uid=None, gid=None, fsync=True):
    """Write ``content`` (bytes) to ``path`` through a temporary file and a rename.

    The temporary file gets owner, group and mode before the rename (:func:`stage_file`), so the
    published file is readable by its final owner/group the moment it appears and never by
    others. ``fsync`` flushes the file before the rename and the directory after it;
    ``fsync=False`` skips both (bulk writers sync once).
    """
    tmp = stage_file(path, content, mode, uid=uid, gid=gid, fsync=fsync)
    try:
        os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise
    if fsync:
        fsync_directory(os.path.dirname(os.path.abspath(path)) or '.')


def remove_stale_temp_files(directory, targets, older_than_ns):
    """Remove the temporary files an interrupted run left in ``directory``: names of ours
    (:func:`temp_file_target`) for a final name in ``targets``, regular files (never a link or a
    directory), last modified before ``older_than_ns`` (the running run's start). The names removed.

    Names are resolved relative to the directory's descriptor and not followed.
    """
    removed = []
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        for name in sorted(os.listdir(dir_fd)):
            if temp_file_target(name) not in targets:
                continue
            try:
                st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                if stat.S_ISREG(st.st_mode) and st.st_mtime_ns < older_than_ns:
                    os.unlink(name, dir_fd=dir_fd)
                    removed.append(name)
            except FileNotFoundError:
                continue
    finally:
        os.close(dir_fd)
    return removed


def publish_file(module, path, content, default_mode=0o644, backup=False, sensitive=False, diff_header=None):
    """Publish ``content`` at ``path`` when it differs, honouring check mode and file arguments.

    ``module.params`` may carry the common file arguments (mode, owner, group, ...). Returns a dict
    with ``changed``, ``content_changed``, ``backup_file`` (when one was made) and ``diff``
    (before/after text, omitted for ``sensitive`` content such as private keys).
    """
    content = to_bytes(content)
    existing = read_bytes(path)
    content_changed = existing != content
    result = {'changed': False, 'content_changed': content_changed}
    if content_changed and module._diff:  # pylint: disable=protected-access
        header = diff_header or path
        if sensitive:
            result['diff'] = {'before_header': header, 'after_header': header,
                              'before': '' if existing is None else '(sensitive content)\n',
                              'after': '(sensitive content, changed)\n'}
        else:
            result['diff'] = {'before_header': header, 'after_header': header,
                              'before': '' if existing is None else to_text(existing, errors='surrogate_or_replace'),
                              'after': to_text(content, errors='surrogate_or_replace')}
    mode_param = module.params.get('mode')
    if content_changed and not module.check_mode:
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            module.fail_json(msg='destination directory %s does not exist' % directory, path=path)
        if backup and existing is not None:
            result['backup_file'] = module.backup_local(path)
        if existing is not None and mode_param is None:
            mode = os.stat(path).st_mode & 0o7777
        else:
            mode = _mode_bits(module, mode_param, path) if mode_param is not None else default_mode
        try:
            atomic_write(path, content, mode)
        except OSError as exc:
            module.fail_json(msg='could not write %s: %s' % (path, to_native(exc)), path=path)
    changed = content_changed
    if os.path.exists(path) or module.check_mode:
        file_args = module.load_file_common_arguments(module.params, path=path)
        if file_args.get('mode') is None and existing is None:
            file_args['mode'] = default_mode
        if os.path.exists(path):
            changed = module.set_fs_attributes_if_different(file_args, changed)
    result['changed'] = changed
    return result
