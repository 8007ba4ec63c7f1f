# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller half of phoneprov.mpp.phone_profiles: render the fleet, ship one payload.

1. Check every phone entry (MAC rule, duplicates, key, template choice) before any work.
2. Ask the managed host for the hashes of the profiles it holds (module, ``inventory: true``).
3. Render each phone's template once per phone with the task's variable context built once;
   only ``phone`` (and ``phone_mac``...) change between phones, and each template is compiled
   once. Check each result as a ``<flat-profile>``, encode it (gzip, encryption) and hash it.
   Profiles whose hash differs from the host's go into one zlib-compressed payload file.
4. Transfer the payload and run the module, which writes changed files atomically and prunes.
Any failure in 1 or 3 stops the task before step 4: nothing is published.
"""

from __future__ import annotations

import base64
import collections
import difflib
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import zlib

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible.plugins.loader import filter_loader, test_loader
from ansible.utils.display import Display
from jinja2 import Environment as Jinja2Environment, nodes as jinja2_nodes

display = Display()
# A long push reports its progress this often (seconds).
PROGRESS_SECONDS = 5

try:  # ansible-core >= 2.19
    from ansible.template import generate_ansible_template_vars, trust_as_template
except ImportError:  # pragma: no cover - older ansible-core
    from ansible.template import generate_ansible_template_vars  # pylint: disable=ungrouped-imports

    def trust_as_template(value):
        return value

from ansible_collections.phoneprov.mpp.plugins.module_utils.flat_profile import ProfileError, check_flat_profile
from ansible_collections.phoneprov.mpp.plugins.module_utils.mac import MACError, mac_colon, normalize_mac
from ansible_collections.phoneprov.mpp.plugins.module_utils.phone_profiles_spec import task_argument_spec
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_codec import (
    ProfileCodecError, decode_profile, encode_profile, key_bytes,
)
from ansible_collections.phoneprov.mpp.plugins.plugin_utils.direct_render import DirectTemplate, NotDirect, is_plain, plain_data

MODULE = 'phoneprov.mpp.phone_profiles'
_MACRO = re.compile(r'\$(MAU|MAC|MA)|\{\{\s*mac\s*\}\}')
_SECRET_ELEMENT = re.compile(r'(<([A-Za-z0-9_.-]*(?:password|secret|key|ikm)[A-Za-z0-9_.-]*)\b[^>]*>)([^<]*)(</\2>)',
                             re.IGNORECASE)
MASK = '********'
RENDER_VERSION = 1
MIN_PHONES_PER_WORKER = 500
# As ansible.builtin.template renders by default.
TEMPLATE_OVERRIDES = dict(trim_blocks=True, lstrip_blocks=False, newline_sequence='\n')
# Only parses templates to find the variables they reference (render fingerprint).
_PARSER = Jinja2Environment(extensions=['jinja2.ext.do', 'jinja2.ext.loopcontrols'])  # nosec B701 - never renders
PHONE_VARIABLES = ('phone', 'phone_mac', 'phone_mac_colon', 'phone_filename')
# What makes a render depend on more than the template, the phone and the referenced variables.
_JINJA_SEGMENT = re.compile(r'\{\{.*?\}\}|\{%.*?%\}', re.DOTALL)
_UNCACHEABLE = re.compile(r'\b(lookup|query|q|now|random|shuffle|password_hash|include|import|extends|from|'
                          r'hostvars|vars|ansible_date_time|template_run_date)\b')

ARGUMENT_SPEC = task_argument_spec(path_type='str')


def profile_filename(pattern, ma):
    """The file name for a phone: ``$MA``, ``$MAU``, ``$MAC`` and ``{{ mac }}`` replaced."""
    def repl(match):
        macro = match.group(1)
        if macro == 'MAU':
            return ma.upper()
        if macro == 'MAC':
            return mac_colon(ma)
        return ma
    return _MACRO.sub(repl, pattern)


def mask_secrets(text, key=None):
    """Profile text for a diff: secret-looking parameter values and the phone's key masked."""
    text = _SECRET_ELEMENT.sub(lambda m: m.group(1) + (MASK if m.group(3) else '') + m.group(4), text)
    if key and isinstance(key, str) and len(key) >= 3:
        text = text.replace(key, MASK)
    return text


def _describe(index, phone):
    mac = phone.get('mac') if isinstance(phone, dict) else None
    return 'phone #%d%s' % (index + 1, ' (mac %s)' % mac if isinstance(mac, str) else '')


class _Fail(Exception):
    pass


class _DirectRender(object):
    """A template rendered by plain Jinja2 over its plain variables, until the templar disagrees."""

    __slots__ = ('name', 'template', 'variables', 'verified')

    def __init__(self, name, template, variables):
        self.name, self.template, self.variables, self.verified = name, template, variables, False


class _Probe(object):
    """Stands in for ``phone`` (and ``phone_mac``...) while shared variables are resolved: any use
    of it marks the variable being resolved as per phone."""

    def __init__(self):
        self.touched = False

    def _touch(self, *_args, **_kwargs):
        self.touched = True
        raise _ProbeTouched()

    __getattr__ = __getitem__ = __iter__ = __len__ = __contains__ = __str__ = __add__ = __radd__ = _touch
    __eq__ = __lt__ = __bool__ = __int__ = __float__ = _touch
    __hash__ = object.__hash__


class _ProbeTouched(Exception):
    pass


def _no_probe(value):
    if isinstance(value, _Probe):
        raise _ProbeTouched()
    return repr(value)


class ActionModule(ActionBase):
    """Render every phone's profile on the controller and publish them in one transfer."""

    TRANSFERS_FILES = True
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    @classmethod
    def finalize_task_arg(cls, name, value, templar, context):
        """Resolve ``phones`` only down to the list (ansible-core 2.19+): each entry is resolved in
        ``_check_phones``, so an entry whose values fail to template is named in the error."""
        if name == 'phones' and hasattr(templar, 'resolve_to_container'):
            return templar.resolve_to_container(value)
        return super(ActionModule, cls).finalize_task_arg(name, value, templar, context)

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        local_tmp = None
        self._t0 = time.time()
        try:
            args = self._validate_args()
            entries = self._check_phones(args)
            templates = self._load_templates(args, entries)
            self._mark('checked %d phones' % len(entries))
            local_tmp = tempfile.mkdtemp(dir=C.DEFAULT_LOCAL_TMP)
            module_args = dict((k, args[k]) for k in ('dest', 'create_dest', 'manifest', 'mode', 'owner', 'group', 'prune'))
            module_args['phones'] = []
            inventory = self._run_module(dict(module_args, inventory=True), task_vars)
            if inventory.get('failed'):
                inventory.pop('invocation', None)
                return inventory
            host_hashes = inventory.get('hashes', {})
            self._mark('host inventory: %d managed profiles' % len(host_hashes))
            payload_path = os.path.join(local_tmp, 'payload')
            rendered = self._render_all(args, entries, templates, task_vars, host_hashes, payload_path)
            matched = rendered['matched']
            self._mark('%d profiles: %d rendered, %d unchanged (%d render workers, %d rendered directly)'
                       % (len(entries), rendered['rendered'], matched, rendered['workers'], rendered['direct']))
            if rendered['fresh'] == len(entries) and (not args['prune'] or inventory.get('managed') == matched):
                # Nothing to write, prune or record: the host need not see a payload at all.
                macs = [entry[1] for entry in entries]
                result.update(changed=False, created=[], updated=[], removed=[], unchanged=macs,
                              counts=dict(created=0, updated=0, removed=0, unchanged=len(macs), total=len(macs)),
                              dest=args['dest'], manifest=inventory.get('manifest'), shipped=0,
                              rendered=rendered['rendered'])
                return result
            remote_payload = self._connection._shell.join_path(self._connection._shell.tmpdir, 'phone_profiles.payload')
            self._transfer_file(payload_path, remote_payload)
            self._fixup_perms2((self._connection._shell.tmpdir, remote_payload))
            published = self._run_module(dict(module_args, payload=remote_payload), task_vars)
            published.pop('invocation', None)
            self._mark('published')
            old_contents = published.pop('old_contents', None) or {}
            if published.get('failed'):
                return published
            result.update(published)
            result['rendered'] = rendered['rendered']
            if self._play_context.diff and (published.get('changed')):
                result['diff'] = self._diff(published, rendered['samples'], old_contents, args, entries)
            return result
        except _Fail as exc:
            result.update(failed=True, msg=to_native(exc))
            return result
        except AnsibleError:
            raise
        except Exception as exc:  # pylint: disable=broad-except
            result.update(failed=True, msg='phone_profiles failed unexpectedly: %s: %s' % (type(exc).__name__, to_native(exc)))
            return result
        finally:
            # The worker sends the task's arguments back to the controller's main process with the
            # result; a fleet of 100,000 phones would be pickled and unpickled for nothing.
            if isinstance(self._task.args.get('phones'), list):
                self._task.args['phones'] = '(%d phones)' % len(self._task.args['phones'])
            if local_tmp:
                shutil.rmtree(local_tmp, ignore_errors=True)
            self._remove_tmp_path(self._connection._shell.tmpdir)

    def _validate_args(self):
        """The task args, checked and with defaults; ``phones`` is checked apart (not deep-copied)."""
        raw = dict(self._task.args)
        phones = raw.pop('phones', None)
        spec = dict((name, value) for name, value in ARGUMENT_SPEC.items() if name != 'phones')
        validated = ArgumentSpecValidator(spec).validate(raw)
        if validated.error_messages:
            raise _Fail('invalid arguments: %s' % '; '.join(validated.error_messages))
        if phones is None:
            raise _Fail('missing required argument: phones')
        if not isinstance(phones, (list, tuple)):
            raise _Fail('phones must be a list of dicts, got %s' % type(phones).__name__)
        args = validated.validated_parameters
        args['phones'] = phones
        return args

    def _resolve_string(self, text):
        """A fleet string as plain ``str``, templated first if it may be a template."""
        if self._templar.is_possibly_template(text):
            return plain_data(self._templar.template(text), str)
        return str(text)

    def _mark(self, what):
        display.vv('phone_profiles: %s at %.2f s' % (what, time.time() - self._t0))

    # -- step 1: phone entries and templates ---------------------------------------------------

    def _check_phones(self, args):
        """List of (index, ma, filename, phone, template name) or _Fail naming the phone at fault."""
        phones = args['phones']
        pattern = args['filename']
        if not pattern or '/' in pattern or pattern in ('.', '..') or pattern == args['manifest']:
            raise _Fail('filename %r is not a plain file name' % pattern)
        if not _MACRO.search(pattern) and len(phones) > 1:
            raise _Fail('filename %r has no $MA, $MAU or $MAC macro: every phone would get the same file' % pattern)
        encrypt = args['encrypt']
        key_field = args['key_field']
        templates = args['templates'] or {}
        if not args['template'] and not templates:
            raise _Fail('give template (one for all phones) or templates (per model), or both')
        if args['record_size'] < 18:
            raise _Fail('record_size must be 18 or more, got %d' % args['record_size'])
        seen_mac = {}
        seen_file = {}
        entries = []
        for index, phone in enumerate(phones):
            # Only strings that may be templates are templated (a vaulted password, say): handing
            # the whole fleet to the templar costs about 15 s per 100,000 phones even when, as
            # usual, nothing in it is a template.
            try:
                phone = plain_data(phone, self._resolve_string)
            except Exception as exc:  # pylint: disable=broad-except
                raise _Fail('phone #%d: its entry does not resolve: %s' % (index + 1, to_native(exc)))
            if not isinstance(phone, dict):
                raise _Fail('phone #%d is a %s, not a dict with a mac' % (index + 1, type(phone).__name__))
            if 'mac' not in phone or phone['mac'] in (None, ''):
                raise _Fail('%s has no mac' % _describe(index, phone))
            try:
                ma = normalize_mac(phone['mac'])
            except MACError as exc:
                raise _Fail('%s: %s' % (_describe(index, phone), exc))
            if ma in seen_mac:
                raise _Fail('%s: duplicate MAC %s, already used by phone #%d' % (_describe(index, phone), ma, seen_mac[ma] + 1))
            seen_mac[ma] = index
            name = profile_filename(pattern, ma)
            if name in seen_file:
                raise _Fail('%s: file name %s already used by phone #%d' % (_describe(index, phone), name, seen_file[name] + 1))
            seen_file[name] = index
            if encrypt != 'none':
                key = phone.get(key_field)
                if key in (None, ''):
                    raise _Fail('%s has no %s: encrypt=%s needs a key per phone' % (_describe(index, phone), key_field, encrypt))
                if not isinstance(key, str):
                    raise _Fail('%s: %s must be a string' % (_describe(index, phone), key_field))
                try:
                    key_bytes(key, args['key_encoding'] if encrypt == 'rfc8188' else 'utf-8')
                except ProfileCodecError as exc:
                    raise _Fail('%s: %s: %s' % (_describe(index, phone), key_field, exc))
            model = phone.get('model')
            template = templates.get(model) if isinstance(model, str) else None
            if template is None:
                template = args['template']
            if not template:
                raise _Fail('%s: no template for model %r (templates has %s) and no default template'
                            % (_describe(index, phone), model, ', '.join(sorted(templates)) or 'none'))
            entries.append((index, ma, name, phone, template))
        return entries

    def _load_templates(self, args, entries):
        """Dict template name -> (trusted text, path, template vars)."""
        loaded = {}
        for name in set(entry[4] for entry in entries):
            try:
                path = self._find_needle('templates', name)
                text = self._loader.get_text_file_contents(path)
            except AnsibleError as exc:
                raise _Fail('template %s: %s' % (name, to_native(exc)))
            tvars = generate_ansible_template_vars(path=name, fullpath=path, dest_path=args['dest'])
            loaded[name] = (trust_as_template(text), path, tvars)
        return loaded

    # -- step 3: render, check, encode, hash ------------------------------------------------------

    def _templar_for(self, templates, task_vars):
        searchpath = list(task_vars.get('ansible_search_path', []))
        searchpath.extend([self._loader.get_basedir()])
        searchpath.extend(os.path.dirname(item[1]) for item in templates.values())
        expanded = []
        for path in searchpath:
            expanded.extend([os.path.join(path, 'templates'), path])
        templar = self._templar.copy_with_new_env(searchpath=expanded, available_variables=task_vars)
        # Compile each template once, not once per phone: Jinja2 compiles a template string on
        # every render otherwise (about 3 ms each), which is most of the naive loop's cost.
        engine = getattr(templar, '_engine', None)
        compile_template = getattr(engine, '_compile_template', None)
        if compile_template is not None:
            cache = {}

            def cached_compile(template, options):
                try:
                    key = (str(template), options)
                    hash(key)
                except TypeError:
                    return compile_template(template, options)
                compiled = cache.get(key)
                if compiled is None:
                    compiled = cache[key] = compile_template(template, options)
                return compiled

            engine._compile_template = cached_compile  # pylint: disable=protected-access
        return templar

    def _template_names(self, templates):
        """Every name the templates read (locals too: over-including only costs a lookup), and
        whether a template may give a different result for the same input (lookups, ``now()``,
        ``random``, includes, ``hostvars``...): then the render cache is off."""
        names, cacheable = set(), True
        for name in sorted(templates):
            text = str(templates[name][0])
            if any(_UNCACHEABLE.search(segment) for segment in _JINJA_SEGMENT.findall(text)):
                display.vv('phone_profiles: template %s uses lookups, includes or time; every phone is rendered' % name)
                cacheable = False
            try:
                names |= set(node.name for node in _PARSER.parse(text).find_all(jinja2_nodes.Name) if node.ctx == 'load')
            except Exception:  # pylint: disable=broad-except
                cacheable = False  # a syntax error shows up when the template is rendered
        return names - set(PHONE_VARIABLES), cacheable

    def _resolve_shared(self, names, templar, task_vars):
        """Values of the variables the templates read that do not depend on the phone.

        Each is templated once here instead of once per phone (role defaults are templates of
        templates). ``phone``, ``phone_mac``... are probes while this runs: a variable whose value
        uses one of them, or that fails to resolve, is left to be resolved per phone.
        Returns ``(shared, per_phone, values)``: ``values`` (for the render fingerprint) has the
        shared values.
        """
        probe = _Probe()
        templar.available_variables = collections.ChainMap(dict((name, probe) for name in PHONE_VARIABLES), task_vars)
        shared, per_phone = {}, set()
        try:
            for name in sorted(names):
                if name not in task_vars:
                    continue  # a template local (set, for) or an undefined name
                probe.touched = False
                try:
                    value = templar.resolve_variable_expression(name)
                    json.dumps(value, default=_no_probe)
                except Exception:  # pylint: disable=broad-except
                    per_phone.add(name)
                    continue
                if probe.touched:
                    per_phone.add(name)
                else:
                    shared[name] = value
        finally:
            templar.available_variables = task_vars
        return shared, per_phone, shared

    def _context_digest(self, args, templates, values):
        """Digest of everything but the phone entry that a render depends on."""
        digest = hashlib.sha256(b'phoneprov.mpp phone_profiles render v%d\x00' % RENDER_VERSION)
        for name in sorted(templates):
            text, path, _tvars = templates[name]
            digest.update(json.dumps([name, path, str(text)]).encode('utf-8'))
        options = [args[key] for key in ('compress', 'encrypt', 'key_field', 'key_encoding', 'record_size', 'filename')]
        try:
            digest.update(json.dumps([options, values], sort_keys=True, default=repr).encode('utf-8'))
        except (TypeError, ValueError):
            return None
        return digest

    def _render_all(self, args, entries, templates, task_vars, host_hashes, payload_path):
        """Render, check, encode and hash every phone; write the payload; return the counts.

        With more than one render worker the fleet is cut into contiguous parts, each rendered by
        a forked copy of this worker process (the variable context is shared copy-on-write, not
        copied per phone); each part is its own zlib stream in the payload, in fleet order.
        """
        templar = self._templar_for(templates, task_vars)
        names, cacheable = self._template_names(templates)
        shared, per_phone, values = self._resolve_shared(names, templar, task_vars)
        if per_phone:
            display.vv('phone_profiles: variables built from the phone entry, resolved per phone (no render cache): %s'
                       % ', '.join(sorted(per_phone)))
        context_digest = None
        if cacheable and not per_phone and args['render_cache']:
            context_digest = self._context_digest(args, templates, values)
        # When every variable the templates read is shared (and nothing reaches variables by name,
        # as lookups or hostvars do), a phone's render needs no other variable: Ansible then copies
        # a small layer per render instead of the whole variable context.
        base = shared if cacheable and not per_phone else collections.ChainMap(shared, task_vars)
        self._mark('%d template variables resolved once for all phones, %d per phone' % (len(shared), len(per_phone)))
        direct = {}
        if args['direct_render'] and cacheable and not per_phone:
            direct = self._direct_templates(templates, names, shared)
        workers = args['render_workers']
        if workers == 0:
            workers = min(os.cpu_count() or 1, 4)
        if not hasattr(os, 'fork') or len(entries) < MIN_PHONES_PER_WORKER * 2:
            workers = 1
        workers = max(1, min(workers, len(entries) // MIN_PHONES_PER_WORKER or 1))
        size = max(1, -(-len(entries) // workers))
        parts = [entries[i:i + size] for i in range(0, len(entries), size)] or [[]]
        paths = ['%s.%d' % (payload_path, number) for number in range(len(parts))]
        children = []
        for number in range(1, len(parts)):
            pid = os.fork()
            if pid == 0:  # pragma: no cover - child process, reports through its files
                status = 1
                try:
                    stats = self._render_part(args, parts[number], templates, base, templar,
                                              context_digest, host_hashes, paths[number], direct)
                    with open(paths[number] + '.json', 'w') as handle:
                        json.dump(stats, handle)
                    status = 0
                except _Fail as exc:
                    with open(paths[number] + '.json', 'w') as handle:
                        json.dump({'error': to_text(exc)}, handle)
                except BaseException as exc:  # pylint: disable=broad-except
                    try:
                        with open(paths[number] + '.json', 'w') as handle:
                            json.dump({'error': 'render worker failed: %s' % to_text(repr(exc))}, handle)
                    except BaseException:  # pylint: disable=broad-except
                        pass
                finally:
                    os._exit(status)  # never run the parent's cleanup in the child
            children.append((number, pid))
        results = [None] * len(parts)
        try:
            results[0] = self._render_part(args, parts[0], templates, base, templar, context_digest,
                                           host_hashes, paths[0], direct, progress=(len(parts), len(entries)))
        except _Fail as exc:
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
                raise _Fail(result['error'])
        with open(payload_path, 'wb') as payload:
            for path in paths:
                with open(path, 'rb') as part:
                    shutil.copyfileobj(part, payload, 1 << 20)
                os.unlink(path)
        samples = {}
        for result in results:
            for ma, text in result['samples']:
                if len(samples) < args['diff_count']:
                    samples[ma] = text
        total = dict((key, sum(result[key] for result in results)) for key in ('matched', 'rendered', 'fresh', 'direct'))
        total.update(samples=samples, workers=len(parts))
        return total

    def _direct_templates(self, templates, names, shared):
        """Templates that plain Jinja2 may render (see plugin_utils/direct_render.py), by name.
        Only when every variable the templates read is shared plain data (no lookups, no
        hostvars, nothing resolved per phone)."""
        try:
            shared_plain = plain_data(shared, strict=True)
        except NotDirect as exc:
            display.vv('phone_profiles: rendering through Ansible\'s templar: %s' % exc)
            return {}
        direct = {}
        for name, (text, _path, tvars) in templates.items():
            if any(key in names and not is_plain(value) for key, value in tvars.items()):
                display.vv('phone_profiles: template %s reads a template variable that is not plain data; '
                           'rendered through Ansible\'s templar' % name)
                continue
            variables = dict(shared_plain)
            variables.update((key, plain_data(value, strict=True)) for key, value in tvars.items() if is_plain(value))
            try:
                direct[name] = _DirectRender(name, DirectTemplate(text, filter_loader, test_loader), variables)
            except NotDirect as exc:
                display.vv('phone_profiles: template %s is rendered through Ansible\'s templar: %s' % (name, exc))
        return direct

    def _render_one(self, templar, text_template, layer, phone_variables, direct):
        """The profile text for one phone, and whether plain Jinja2 rendered it.

        A direct render that raises goes to Ansible's templar (its result or its error). The first
        direct render of each template is checked against the templar's; any difference sends the
        template back to the templar for the rest of the run."""
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
                expected = self._templar_render(templar, text_template, layer, phone_variables)
                if expected == text:
                    direct.verified = True
                    return text, True
                display.vv('phone_profiles: plain Jinja2 and Ansible render template %s differently; '
                           'rendering it through Ansible\'s templar' % direct.name)
                direct.template = None
                return expected, False
        return self._templar_render(templar, text_template, layer, phone_variables), False

    @staticmethod
    def _templar_render(templar, text_template, layer, phone_variables):
        templar.available_variables = collections.ChainMap(phone_variables, layer)
        text = templar.template(text_template, escape_backslashes=False, overrides=TEMPLATE_OVERRIDES)
        return text if isinstance(text, str) else to_text(text)

    def _render_part(self, args, entries, templates, base, templar, context_digest, host_hashes, part_path, direct,
                     progress=None):
        """Render one contiguous part of the fleet into ``part_path``.

        ``progress`` is ``(parts, phones)`` for the part this process renders itself: a long push
        then reports every PROGRESS_SECONDS how far it got (the other parts run at the same pace).
        """
        encrypt, compress = args['encrypt'], args['compress']
        key_field, key_encoding = args['key_field'], args['key_encoding']
        check_mode = self._play_context.check_mode
        diff_left = max(args['diff_count'], 0) if self._play_context.diff else 0
        samples = []
        matched = rendered = fresh = directly = 0
        compressor = zlib.compressobj(1)
        layers = dict((name, collections.ChainMap(item[2], base)) for name, item in templates.items())
        with open(part_path, 'wb') as payload:
            next_report = time.time() + PROGRESS_SECONDS
            for done, (index, ma, filename, phone, template) in enumerate(entries):
                if progress and time.time() >= next_report:
                    next_report = time.time() + PROGRESS_SECONDS
                    display.display('phone_profiles: about %d of %d phones rendered'
                                    % (min(done * progress[0], progress[1]), progress[1]))
                header = {'f': filename, 'm': ma}
                host = host_hashes.get(filename)
                if context_digest is not None:
                    fingerprint = context_digest.copy()
                    try:
                        fingerprint.update(json.dumps([template, phone], sort_keys=True, default=repr).encode('utf-8'))
                        header['r'] = fingerprint.hexdigest()
                    except (TypeError, ValueError):
                        pass
                if host and header.get('r') and host[1] == header['r']:
                    # Same template, same variables, same phone entry: same profile as published.
                    matched += 1
                    fresh += 1
                    header.update(h=host[0], n=-1)
                    payload.write(compressor.compress(json.dumps(header, separators=(',', ':')).encode('utf-8') + b'\n'))
                    continue
                phone_variables = {'phone': phone, 'phone_mac': ma, 'phone_mac_colon': mac_colon(ma), 'phone_filename': filename}
                try:
                    text, was_direct = self._render_one(templar, templates[template][0], layers[template], phone_variables,
                                                        direct.get(template))
                except Exception as exc:  # pylint: disable=broad-except
                    raise _Fail('%s: template %s failed: %s' % (_describe(index, phone), template, to_native(exc)))
                rendered += 1
                directly += was_direct
                plain = to_bytes(text, errors='surrogate_or_strict')
                try:
                    check_flat_profile(plain)
                except ProfileError as exc:
                    raise _Fail('%s: template %s did not give a valid profile: %s' % (_describe(index, phone), template, exc))
                try:
                    data = encode_profile(plain, compress=compress, encrypt=encrypt,
                                          key=phone.get(key_field) if encrypt != 'none' else None,
                                          key_encoding=key_encoding, salt='derive', record_size=args['record_size'])
                except ProfileCodecError as exc:
                    raise _Fail('%s: encoding failed: %s' % (_describe(index, phone), exc))
                header['h'] = hashlib.sha256(data).hexdigest()
                content = b''
                if host and host[0] == header['h']:
                    matched += 1
                    if context_digest is None:
                        fresh += 1
                    header['n'] = -1
                else:
                    header['n'] = -1 if check_mode else len(data)
                    content = b'' if check_mode else data
                    if diff_left:
                        diff_left -= 1
                        header['d'] = 1
                        samples.append((ma, text))
                payload.write(compressor.compress(json.dumps(header, separators=(',', ':')).encode('utf-8') + b'\n'))
                if content:
                    payload.write(compressor.compress(content))
            payload.write(compressor.flush())
        return {'matched': matched, 'rendered': rendered, 'fresh': fresh, 'direct': directly, 'samples': samples}

    # -- step 4: the managed host -------------------------------------------------------------------

    def _run_module(self, module_args, task_vars):
        if self._connection._shell.tmpdir is None:
            self._make_tmp_path()
        return self._execute_module(module_name=MODULE, module_args=module_args, task_vars=task_vars)

    def _diff(self, published, samples, old_contents, args, entries):
        by_mac = dict((entry[1], entry) for entry in entries)
        lines = []
        for label in ('created', 'updated', 'removed'):
            macs = published.get(label) or []
            if macs:
                shown = ', '.join(macs[:20]) + (' ... (%d more)' % (len(macs) - 20) if len(macs) > 20 else '')
                lines.append('%s %d: %s\n' % (label, len(macs), shown))
        for ma, new_text in samples.items():
            if ma not in (published.get('created') or []) and ma not in (published.get('updated') or []):
                continue
            entry = by_mac.get(ma)
            key = entry[3].get(args['key_field']) if entry and args['encrypt'] != 'none' else None
            old_text = ''
            if ma in old_contents:
                try:
                    old_plain, _info = decode_profile(base64.b64decode(old_contents[ma]), key=key,
                                                      key_encoding=args['key_encoding'])
                    old_text = to_text(old_plain, errors='surrogate_or_replace')
                except (ProfileCodecError, ValueError) as exc:
                    old_text = '(previous content could not be decoded: %s)\n' % exc
            name = os.path.join(args['dest'], entry[2] if entry else ma)
            lines.extend(difflib.unified_diff(mask_secrets(old_text, key).splitlines(True),
                                              mask_secrets(new_text, key).splitlines(True),
                                              'before: %s' % name, 'after: %s' % name))
        text = ''.join(line if line.endswith('\n') else line + '\n' for line in lines)
        return {'prepared': text}
