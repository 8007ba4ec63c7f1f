# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Atomic, idempotent file publishing for the collection's modules.

A file is written to a temporary file in the destination directory, given its final mode
while still private, flushed and renamed over the old one: a reader sees the old file or
the new one, never a part, and a private key is never readable by others, not even for a
moment (``AnsibleModule.atomic_move`` applies the umask to new files before we could chmod).
"""

from __future__ import annotations

import os
import tempfile

from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text


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


def atomic_write(path, content, mode=0o600, uid=None, gid=None, fsync=True):
    """Write ``content`` (bytes) to ``path`` through a temporary file and a rename.

    The temporary file is created 0600, chown-ed to ``uid``/``gid`` (when given, -1 or None
    keeps the current one) and chmod-ed to ``mode`` before the rename, so the published file
    never has wider permissions than asked for and is readable by its final owner/group the
    moment it appears. ``fsync=False`` skips the flush to disk (bulk writers sync once).
    """
    directory = os.path.dirname(os.path.abspath(path)) or '.'
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), suffix='.tmp', dir=directory)
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(content)
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
            if uid is not None or gid is not None:
                os.fchown(handle.fileno(), -1 if uid is None else uid, -1 if gid is None else gid)
            os.fchmod(handle.fileno(), mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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
