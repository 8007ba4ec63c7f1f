# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the phone_profiles action renders every phone with, built once per task.

- A templar whose template compilation is cached (once per template, not once per phone).
- The names the templates read (from the Jinja2 syntax tree), and whether a render may depend
  on more than the template, the phone and those variables (lookups, ``now()``, ``hostvars``...).
- **Shared variables**: each name is resolved once with ``phone`` & co. replaced by probes; a
  variable whose value uses the phone touches a probe and is left to be resolved per phone.
- The **render fingerprint** base: SHA-256 over the templates, the encoding options and the
  shared values; each phone's entry is added per phone (render workers).
- The templates plain Jinja2 may render (plugin_utils/direct_render.py), when all is shared.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import re

from ansible.plugins.loader import filter_loader, test_loader
from ansible.utils.display import Display
from jinja2 import Environment as Jinja2Environment, nodes as jinja2_nodes

from ansible_collections.phoneprov.mpp.plugins.plugin_utils.core_compat import final_value, profile_templar, resolve_variable
from ansible_collections.phoneprov.mpp.plugins.plugin_utils.direct_render import DirectTemplate, NotDirect, is_plain, plain_data

display = Display()
RENDER_VERSION = 1
# One encoder for every phone's fingerprint: json.dumps would build one per call (a fifth of the cost).
_ENTRY_ENCODER = json.JSONEncoder(sort_keys=True, default=repr)
PHONE_VARIABLES = ('phone', 'phone_mac', 'phone_mac_colon', 'phone_filename')
# Options that change a profile's bytes without changing the template or the variables.
ENCODING_OPTIONS = ('compress', 'encrypt', 'key_field', 'key_encoding', 'record_size', 'filename')
# Only parses templates to find the variables they reference (render fingerprint).
_PARSER = Jinja2Environment(extensions=['jinja2.ext.do', 'jinja2.ext.loopcontrols'])  # nosec B701 - never renders
# What makes a render depend on more than the template, the phone and the referenced variables.
_JINJA_SEGMENT = re.compile(r'\{\{.*?\}\}|\{%.*?%\}', re.DOTALL)
_UNCACHEABLE = re.compile(r'\b(lookup|query|q|now|random|shuffle|password_hash|include|import|extends|from|'
                          r'hostvars|vars|ansible_date_time|template_run_date)\b')

# One loaded template: its text (trusted as a template), its path, its template variables
# (template_path, template_host... as ansible.builtin.template sets them).
LoadedTemplate = collections.namedtuple('LoadedTemplate', 'text path variables')


class DirectRender(object):
    """A template rendered by plain Jinja2 over its plain variables, until the templar disagrees
    (then ``template`` is set to None); ``verified`` once one render matched the templar's."""

    __slots__ = ('name', 'template', 'variables', 'verified')

    def __init__(self, name, template, variables):
        self.name, self.template, self.variables, self.verified = name, template, variables, False


class RenderContext(object):
    """Everything a render worker needs besides the phones.

    ``templar`` (compile-cached), ``templates`` (name -> LoadedTemplate), ``layers`` (name ->
    the variables under the phone's: template variables over ``base``), ``digest`` (the render
    fingerprint's base, a hashlib object, or None when the render cache is off), ``direct``
    (name -> DirectRender), ``shared`` and ``per_phone`` (variable names).
    """

    def __init__(self, templar, templates, base, digest, direct, shared, per_phone):
        self.templar, self.templates, self.digest, self.direct = templar, templates, digest, direct
        self.shared, self.per_phone = shared, per_phone
        self.layers = dict((name, collections.ChainMap(item.variables, base)) for name, item in templates.items())


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


def compile_cached_templar(templar, searchpath, task_vars):
    """A copy of ``templar`` over ``searchpath`` that compiles each template string once.

    Jinja2 compiles a template string on every render otherwise (about 3 ms each), which is
    most of a naive loop's cost. ansible-core < 2.19 has no compile step to cache (there the
    direct rendering is the fast path).
    """
    templar = profile_templar(templar, searchpath, task_vars)
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


def template_searchpath(task_vars, basedir, templates):
    """Where the templates' own includes are looked for, as ansible.builtin.template looks."""
    searchpath = list(task_vars.get('ansible_search_path', []))
    searchpath.append(basedir)
    searchpath.extend(os.path.dirname(item.path) for item in templates.values())
    expanded = []
    for path in searchpath:
        expanded.extend([os.path.join(path, 'templates'), path])
    return expanded


def template_names(templates):
    """Every name the templates read (locals too: over-including only costs a lookup), and
    whether a template may give a different result for the same input (lookups, ``now()``,
    ``random``, includes, ``hostvars``...): then the render cache is off."""
    names, cacheable = set(), True
    for name in sorted(templates):
        text = str(templates[name].text)
        if any(_UNCACHEABLE.search(segment) for segment in _JINJA_SEGMENT.findall(text)):
            display.vv('phone_profiles: template %s uses lookups, includes or time; every phone is rendered' % name)
            cacheable = False
        try:
            names |= set(node.name for node in _PARSER.parse(text).find_all(jinja2_nodes.Name) if node.ctx == 'load')
        except Exception:  # pylint: disable=broad-except
            cacheable = False  # a syntax error shows up when the template is rendered
    return names - set(PHONE_VARIABLES), cacheable


def resolve_shared(names, templar, task_vars):
    """``(shared, per_phone)``: the values of the variables the templates read that do not
    depend on the phone, and the names of those that do (or that fail to resolve).

    Each is templated once here instead of once per phone (role defaults are templates of
    templates), and read as it is by the renders (core_compat.final_value). ``phone``,
    ``phone_mac``... are probes while this runs.
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
                value = resolve_variable(templar, name)
                json.dumps(value, default=_no_probe)
            except Exception:  # pylint: disable=broad-except
                per_phone.add(name)
                continue
            if probe.touched:
                per_phone.add(name)
            else:
                shared[name] = final_value(value)
    finally:
        templar.available_variables = task_vars
    return shared, per_phone


def context_digest(args, templates, shared):
    """Digest of everything but the phone entry that a render depends on; None if the shared
    values cannot be serialised."""
    digest = hashlib.sha256(b'phoneprov.mpp phone_profiles render v%d\x00' % RENDER_VERSION)
    for name in sorted(templates):
        item = templates[name]
        digest.update(json.dumps([name, item.path, str(item.text)]).encode('utf-8'))
    options = [args[key] for key in ENCODING_OPTIONS]
    try:
        digest.update(json.dumps([options, shared], sort_keys=True, default=repr).encode('utf-8'))
    except (TypeError, ValueError):
        return None
    return digest


def direct_templates(templates, names, shared):
    """Templates that plain Jinja2 may render (see plugin_utils/direct_render.py), by name.
    Only when every variable the templates read is shared plain data (no lookups, no
    hostvars, nothing resolved per phone)."""
    try:
        shared_plain = plain_data(shared, strict=True)
    except NotDirect as exc:
        display.vv('phone_profiles: rendering through Ansible\'s templar: %s' % exc)
        return {}
    direct = {}
    for name, item in templates.items():
        if any(key in names and not is_plain(value) for key, value in item.variables.items()):
            display.vv('phone_profiles: template %s reads a template variable that is not plain data; '
                       'rendered through Ansible\'s templar' % name)
            continue
        variables = dict(shared_plain)
        variables.update((key, plain_data(value, strict=True)) for key, value in item.variables.items() if is_plain(value))
        try:
            direct[name] = DirectRender(name, DirectTemplate(item.text, filter_loader, test_loader), variables)
        except NotDirect as exc:
            display.vv('phone_profiles: template %s is rendered through Ansible\'s templar: %s' % (name, exc))
    return direct


def build_render_context(templar, searchpath, args, templates, task_vars):
    """The RenderContext of one task: ``templar`` is the action's, ``templates`` name -> LoadedTemplate."""
    templar = compile_cached_templar(templar, searchpath, task_vars)
    names, cacheable = template_names(templates)
    shared, per_phone = resolve_shared(names, templar, task_vars)
    if per_phone:
        display.vv('phone_profiles: variables built from the phone entry, resolved per phone (no render cache): %s'
                   % ', '.join(sorted(per_phone)))
    all_shared = cacheable and not per_phone
    digest = context_digest(args, templates, shared) if all_shared and args['render_cache'] else None
    # When every variable the templates read is shared (and nothing reaches variables by name,
    # as lookups or hostvars do), a phone's render needs no other variable: Ansible then copies
    # a small layer per render instead of the whole variable context.
    base = shared if all_shared else collections.ChainMap(shared, task_vars)
    direct = direct_templates(templates, names, shared) if args['direct_render'] and all_shared else {}
    return RenderContext(templar, templates, base, digest, direct, shared, per_phone)


# The task's arguments that shape the published files besides the render context (push digest).
PUBLISH_OPTIONS = ('filename', 'compress', 'encrypt', 'key_field', 'key_encoding', 'record_size', 'mode', 'owner', 'group',
                   'prune', 'manifest')


def phone_fingerprint(context, entry):
    """The render fingerprint of one phone: the context's digest (templates and variables), the
    phone's template and entry; None when there is no context digest or the entry cannot be dumped.
    The same fingerprint means the same profile."""
    if context.digest is None:
        return None
    fingerprint = context.digest.copy()
    try:
        fingerprint.update(_ENTRY_ENCODER.encode([entry.template, entry.phone]).encode('utf-8'))
    except (TypeError, ValueError):
        return None
    return fingerprint.hexdigest()


def fingerprints(context, entries):
    """The render fingerprint of every phone, in fleet order."""
    return [phone_fingerprint(context, entry) for entry in entries]


def push_digest(context, args, entries, prints=None):
    """SHA-256 (hex) of everything one push publishes: the templates' texts, the render context's
    digest, every phone's render fingerprint in fleet order (``prints``, computed when not given)
    and the options that shape the files; None when a phone has no fingerprint (values that cannot
    be fingerprinted). The same digest recorded in the host's manifest, with every managed file
    intact, means there is nothing to render or send."""
    if context.digest is None:
        return None
    if prints is None:
        prints = fingerprints(context, entries)
    if any(render is None for render in prints):
        return None
    digest = hashlib.sha256(b'phoneprov.mpp phone_profiles push v%d\x00' % RENDER_VERSION)
    try:
        digest.update(json.dumps([context.digest.hexdigest(), [str(item.text) for _name, item in sorted(context.templates.items())],
                                  [args[key] for key in PUBLISH_OPTIONS]], sort_keys=True, default=repr).encode('utf-8'))
    except (TypeError, ValueError):
        return None
    digest.update('\n'.join(prints).encode('ascii'))
    return digest.hexdigest()
