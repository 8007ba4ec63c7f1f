# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The phone_profiles action's render workers: render, check, encode and hash every phone.

Each phone's template is rendered (directly by plain Jinja2 when plugin_utils/render_context.py
found it may be, else by Ansible's templar), checked as a ``<flat-profile>``, encoded (gzip,
encryption) and hashed; profiles whose hash differs from the host's go into the payload
(module_utils/profile_payload.py). A phone whose render fingerprint equals the host's is not
rendered at all. With more than one worker the fleet is cut into contiguous parts, each
rendered by a forked copy of the Ansible worker process (the variable context is shared
copy-on-write, not copied per phone), each part its own zlib stream, in fleet order.
"""

from __future__ import annotations

import collections
import fcntl
import hashlib
import json
import os
import shutil
import time

from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text
from ansible.utils.display import Display

from ansible_collections.phoneprov.mpp.plugins.module_utils.flat_profile import ProfileError, check_flat_profile
from ansible_collections.phoneprov.mpp.plugins.module_utils.mac import mac_colon
from ansible_collections.phoneprov.mpp.plugins.module_utils.phone_entry import describe_phone
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_codec import ProfileCodecError, encode_profile
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_payload import PayloadWriter, read_payload
from ansible_collections.phoneprov.mpp.plugins.plugin_utils.core_compat import final_value, render_profile
from ansible_collections.phoneprov.mpp.plugins.plugin_utils.render_context import phone_fingerprint

display = Display()
# A long push reports its progress this often (seconds).
PROGRESS_SECONDS = 5
MIN_PHONES_PER_WORKER = 500
# As ansible.builtin.template renders by default.
TEMPLATE_OVERRIDES = dict(trim_blocks=True, lstrip_blocks=False, newline_sequence='\n')
COUNTS = ('matched', 'rendered', 'fresh', 'direct', 'shared')


class RenderError(Exception):
    """A phone whose profile could not be rendered, checked or encoded; the message names it."""


# How one push renders: the task's (validated) arguments, check and diff mode, the host's
# hashes (file name -> [sha256, render fingerprint]), and the profiles other hosts of this run
# rendered already (render fingerprint -> (sha256, encoded profile); see RenderShare).
# ``fingerprints``: each phone's render fingerprint by fleet index, when computed already;
# ``clean``: (bucket of each phone by fleet index, the buckets the host holds as they should be),
# whose phones are neither rendered nor sent (module_utils/profile_buckets.py).
RenderJob = collections.namedtuple('RenderJob', 'args check_mode diff host_hashes known fingerprints clean')
RenderJob.__new__.__defaults__ = (None, None, None)


class RenderShare(object):
    """The profiles one ansible-playbook run rendered, shared by its hosts' forked workers.

    Hosts of one play receiving the same push render each profile once: the first to need a
    profile renders it and appends it here, the others read it. ``directory`` is the run's own
    local temporary directory (C.DEFAULT_LOCAL_TMP: 0700, made by the main process before it
    forks the workers and removed when the run ends); the records sit in ``<push digest>.share``
    (0600, the payload format, keyed by render fingerprint), replaced by atomic rename under an
    flock on ``<push digest>.lock``. The push digest covers every render input, so no two
    different pushes ever read each other's profiles.
    """

    def __init__(self, directory, digest):
        self.path = os.path.join(directory, 'phone_profiles-%s.share' % digest)
        self._lock_path = os.path.join(directory, 'phone_profiles-%s.lock' % digest)
        self._lock = None

    def __enter__(self):
        self._lock = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc_info):
        os.close(self._lock)  # closing releases the flock

    def read(self):
        """Render fingerprint -> (sha256, encoded profile) of what the run rendered so far."""
        if not os.path.exists(self.path):
            return {}
        return dict((record.render, (record.sha256, record.content)) for record in read_payload(self.path))

    def add(self, part_paths):
        """Append the new records of ``part_paths`` (payload files), replacing the share atomically."""
        parts = [path for path in part_paths if os.path.getsize(path)]
        if not parts:
            return
        temp = self.path + '.%d.tmp' % os.getpid()
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, 'wb') as out:
                for path in ([self.path] if os.path.exists(self.path) else []) + parts:
                    with open(path, 'rb') as part:
                        shutil.copyfileobj(part, out, 1 << 20)
            os.replace(temp, self.path)
        finally:
            if os.path.exists(temp):
                os.unlink(temp)


def worker_count(requested, phones):
    """How many processes render ``phones`` phones: 0 asks for one per CPU (at most 4); each
    renders MIN_PHONES_PER_WORKER or more."""
    workers = requested or min(os.cpu_count() or 1, 4)
    if not hasattr(os, 'fork') or phones < MIN_PHONES_PER_WORKER * 2:
        workers = 1
    return max(1, min(workers, phones // MIN_PHONES_PER_WORKER or 1))


def templar_render(templar, text_template, layer, phone_variables):
    """The template over the phone's variables by Ansible's templar; the phone's variables are
    resolved already and are read as they are (a registered value is never templated)."""
    templar.available_variables = collections.ChainMap(final_value(phone_variables), layer)
    return render_profile(templar, text_template, TEMPLATE_OVERRIDES)


def render_one(context, template, phone_variables):
    """The profile text for one phone, and whether plain Jinja2 rendered it.

    A direct render that raises goes to Ansible's templar (its result or its error). The first
    direct render of each template is checked against the templar's; any difference sends the
    template back to the templar for the rest of the run."""
    text_template, layer, direct = context.templates[template].text, context.layers[template], context.direct.get(template)
    if direct is not None and direct.template is not None:
        variables = dict(direct.variables)
        variables.update(phone_variables)
        try:
            text = direct.template.render(variables)
        except Exception:  # pylint: disable=broad-except
            text = None
        if text is not None:
            if direct.verified:
                return text, True
            expected = templar_render(context.templar, text_template, layer, phone_variables)
            if expected == text:
                direct.verified = True
                return text, True
            display.vv('phone_profiles: plain Jinja2 and Ansible render template %s differently; '
                       'rendering it through Ansible\'s templar' % direct.name)
            direct.template = None
            return expected, False
    return templar_render(context.templar, text_template, layer, phone_variables), False


def _encoded_profile(context, job, entry):
    """(profile bytes, plain text, rendered directly) of one phone; RenderError naming it."""
    args, phone, template = job.args, entry.phone, entry.template
    phone_variables = {'phone': phone, 'phone_mac': entry.mac, 'phone_mac_colon': mac_colon(entry.mac),
                       'phone_filename': entry.filename}
    try:
        text, was_direct = render_one(context, template, phone_variables)
    except Exception as exc:  # pylint: disable=broad-except
        raise RenderError('%s: template %s failed: %s' % (describe_phone(entry.index, phone), template, to_native(exc)))
    plain = to_bytes(text, errors='surrogate_or_strict')
    try:
        check_flat_profile(plain)
    except ProfileError as exc:
        raise RenderError('%s: template %s did not give a valid profile: %s' % (describe_phone(entry.index, phone), template, exc))
    encrypt = args['encrypt']
    try:
        data = encode_profile(plain, compress=args['compress'], encrypt=encrypt,
                              key=phone.get(args['key_field']) if encrypt != 'none' else None,
                              key_encoding=args['key_encoding'], salt='derive', record_size=args['record_size'])
    except ProfileCodecError as exc:
        raise RenderError('%s: encoding failed: %s' % (describe_phone(entry.index, phone), exc))
    return data, text, was_direct


def render_part(context, job, entries, part_path, progress=None):
    """Render one contiguous part of the fleet into the payload part ``part_path``; the counts.

    ``progress`` is ``(parts, phones)`` for the part this process renders itself: a long push
    then reports every PROGRESS_SECONDS how far it got (the other parts run at the same pace).
    """
    diff_left = max(job.args['diff_count'], 0) if job.diff else 0
    samples = []
    counts = dict.fromkeys(COUNTS, 0)
    known = job.known
    share = open(part_path + '.share', 'wb') if known is not None else None  # pylint: disable=consider-using-with
    try:
        _render_part(context, job, entries, part_path, progress, (diff_left, samples, counts, known, share))
    finally:
        if share is not None:
            share.close()
    counts['samples'] = samples
    return counts


def _render_part(context, job, entries, part_path, progress, state):
    diff_left, samples, counts, known, share = state
    shared = PayloadWriter(share) if share is not None else None
    entry_buckets, clean_buckets = job.clean if job.clean is not None else (None, None)
    with open(part_path, 'wb') as handle, PayloadWriter(handle) as payload:
        next_report = time.time() + PROGRESS_SECONDS
        for done, entry in enumerate(entries):
            if progress and time.time() >= next_report:
                next_report = time.time() + PROGRESS_SECONDS
                display.display('phone_profiles: about %d of %d phones rendered' % (min(done * progress[0], progress[1]), progress[1]))
            if clean_buckets is not None and entry_buckets[entry.index] in clean_buckets:
                counts['matched'] += 1  # its bucket is as it should be on the host: nothing to render or send
                counts['fresh'] += 1
                continue
            host = job.host_hashes.get(entry.filename)
            render = job.fingerprints[entry.index] if job.fingerprints is not None else phone_fingerprint(context, entry)
            if host and render and host[1] == render:
                # Same template, same variables, same phone entry: same profile as published.
                counts['matched'] += 1
                counts['fresh'] += 1
                payload.add(entry.filename, entry.mac, host[0], render)
                continue
            if known is not None and render in known:
                sha256, data = known[render]
                counts['shared'] += 1
                text = None
            else:
                data, text, was_direct = _encoded_profile(context, job, entry)
                counts['rendered'] += 1
                counts['direct'] += was_direct
                sha256 = hashlib.sha256(data).hexdigest()
                if shared is not None and render:
                    shared.add(entry.filename, entry.mac, sha256, render, content=data)
            if host and host[0] == sha256:
                counts['matched'] += 1
                counts['fresh'] += context.digest is None
                payload.add(entry.filename, entry.mac, sha256, render)
                continue
            want_diff = diff_left > 0
            if want_diff:
                diff_left -= 1
                samples.append((entry.mac, text))
            payload.add(entry.filename, entry.mac, sha256, render, content=None if job.check_mode else data, diff=want_diff)
    if shared is not None:
        shared.close()


def _child(context, job, part, path):  # pragma: no cover - runs in a forked child, reports through its file
    """Render one part in a forked child; its counts or its error go to ``path.json``."""
    status = 1
    try:
        stats = render_part(context, job, part, path)
        with open(path + '.json', 'w') as handle:
            json.dump(stats, handle)
        status = 0
    except RenderError as exc:
        with open(path + '.json', 'w') as handle:
            json.dump({'error': to_text(exc)}, handle)
    except BaseException as exc:  # pylint: disable=broad-except
        try:
            with open(path + '.json', 'w') as handle:
                json.dump({'error': 'render worker failed: %s' % to_text(repr(exc))}, handle)
        except BaseException:  # pylint: disable=broad-except
            pass
    finally:
        os._exit(status)  # never run the parent's cleanup in the child


def render_all(context, job, entries, payload_path, share=None):
    """Render every phone into the payload file ``payload_path``; the counts (``matched``,
    ``rendered``, ``fresh``, ``direct``, ``shared``: taken from ``job.known``), ``samples``
    (MAC -> text, for the diff) and ``workers``. The profiles rendered go into ``share`` (a
    RenderShare, locked) when given. RenderError for the first phone that failed; nothing else
    is kept then."""
    try:
        return _render_all(context, job, entries, payload_path, share)
    finally:
        for name in os.listdir(os.path.dirname(payload_path) or '.'):
            if name.startswith(os.path.basename(payload_path) + '.') and name.endswith('.share'):
                os.unlink(os.path.join(os.path.dirname(payload_path), name))


def _render_all(context, job, entries, payload_path, share):
    workers = worker_count(job.args['render_workers'], len(entries))
    size = max(1, -(-len(entries) // workers))
    parts = [entries[i:i + size] for i in range(0, len(entries), size)] or [[]]
    paths = ['%s.%d' % (payload_path, number) for number in range(len(parts))]
    children = []
    for number in range(1, len(parts)):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child process
            _child(context, job, parts[number], paths[number])
        children.append((number, pid))
    results = [None] * len(parts)
    try:
        results[0] = render_part(context, job, parts[0], paths[0], progress=(len(parts), len(entries)))
    except RenderError as exc:
        results[0] = {'error': to_text(exc)}
    finally:
        for number, pid in children:
            _pid, status = os.waitpid(pid, 0)
            try:
                with open(paths[number] + '.json') as handle:
                    results[number] = json.load(handle)
            except (OSError, ValueError):
                results[number] = {'error': 'render worker %d ended with status %d and no result' % (number, status)}
    for result in results:
        if 'error' in result:
            raise RenderError(result['error'])
    if share is not None:
        share.add([path + '.share' for path in paths])
    with open(payload_path, 'wb') as payload:
        for path in paths:
            with open(path, 'rb') as part:
                shutil.copyfileobj(part, payload, 1 << 20)
            os.unlink(path)
    samples = {}
    for result in results:
        for ma, text in result['samples']:
            if len(samples) < job.args['diff_count']:
                samples[ma] = text
    total = dict((key, sum(result[key] for result in results)) for key in COUNTS)
    total.update(samples=samples, workers=len(parts))
    return total
