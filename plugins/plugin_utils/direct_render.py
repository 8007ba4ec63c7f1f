# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render a profile template with plain Jinja2 over plain data, as Ansible's templar would.

Why: ansible-core 2.19's templar wraps every value it hands a template in lazy, tagged
containers and intercepts every filter call; for a 1 KB profile that is about 1 ms a render,
most of a 100,000-phone push. When the phone_profiles action has already resolved everything a
template reads into plain data (the phone entry and the shared variables, no lookups, no
``hostvars``), the same template can be rendered by a plain sandboxed Jinja2 environment set up
like Ansible's (trim_blocks, no autoescape, Ansible's filter and test plugins, ``None`` rendered
as nothing, trailing newlines kept) at a fraction of the cost.

The action never trusts this blindly: a template is rendered directly only if every filter and
test it names resolves; any exception (an undefined variable, an unusual filter) sends that phone
to Ansible's templar, which gives Ansible's result or Ansible's error; and the first phone of each
template is rendered both ways and must match exactly, or the template goes back to the templar.
"""

from __future__ import annotations

import functools
import types

from jinja2 import StrictUndefined, nodes
from jinja2.defaults import DEFAULT_FILTERS, DEFAULT_TESTS
from jinja2.sandbox import SandboxedEnvironment

from ansible_collections.phoneprov.mpp.plugins.plugin_utils.core_compat import DATA_TAGGING

# Filter results Ansible turns into lists before a template sees them (map, select, ...).
_ITERATORS = (types.GeneratorType, map, filter, zip, reversed, type(iter([])), type(iter(())), type(iter({})))
_EXTENSIONS = ['jinja2.ext.do', 'jinja2.ext.loopcontrols']
# Ansible's own versions of these differ from Jinja2's only in handling Ansible's undefined
# markers; with Jinja2's Undefined here, Jinja2's versions are the same filter.
_JINJA_NATIVE = frozenset(('d', 'default'))


# ansible-core's own test of whether a string may hold a template (default delimiters).
_TEMPLATE_STARTS = ('{{', '{%', '{#')
_OVERRIDE_HEADER = '#jinja2:'


def possibly_template(text):
    """True if Ansible would treat ``text`` as a template (were it trusted)."""
    return text.startswith(_OVERRIDE_HEADER) or any(start in text for start in _TEMPLATE_STARTS)


class NotDirect(Exception):
    """This template (or this render) is left to Ansible's templar."""


def _as_ansible_outputs(value):
    """Containers as Ansible writes them into a template: tuples become lists, at any depth."""
    if type(value) in (list, tuple):  # pylint: disable=unidiomatic-typecheck
        return [_as_ansible_outputs(item) for item in value]
    if type(value) is dict:  # pylint: disable=unidiomatic-typecheck
        return dict((_as_ansible_outputs(key), _as_ansible_outputs(item)) for key, item in value.items())
    return value


def _finalize(value):
    # Ansible renders None as an empty string in a template of several parts; a callable (a dict
    # method named without a call, say) is an error there: leave that to Ansible.
    if value is None:
        return ''
    if callable(value):
        raise NotDirect('a callable in output')
    if DATA_TAGGING and isinstance(value, (list, tuple, dict)):
        return _as_ansible_outputs(value)  # 2.19 writes tuples as lists; older releases as tuples
    return value


def _listing(function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        result = function(*args, **kwargs)
        return list(result) if isinstance(result, _ITERATORS) else result
    return wrapper


def _plugin_function(loader, name, builtins):
    """The function behind an Ansible filter or test name, or None."""
    if name in _JINJA_NATIVE and name in builtins:
        return builtins[name]
    instance = None
    if loader is not None:
        try:
            instance = loader.get(name)
        except Exception:  # pylint: disable=broad-except
            instance = None
    if instance is not None:
        return getattr(instance, 'j2_function', None) or getattr(instance, 'function', None)
    return builtins.get(name)


class _Plugins(dict):
    """Filters or tests by name, resolved on first use as Ansible's environment resolves them
    (also names given as strings, as in ``map('upper')`` or ``select('equalto', x)``)."""

    def __init__(self, loader, builtins, wrap):
        super(_Plugins, self).__init__()
        self._loader, self._builtins, self._wrap = loader, builtins, wrap

    def _resolve(self, name):
        if not dict.__contains__(self, name):
            function = _plugin_function(self._loader, name, self._builtins)
            if function is None:
                return None
            dict.__setitem__(self, name, self._wrap(function))
        return dict.__getitem__(self, name)

    def __contains__(self, name):
        return isinstance(name, str) and self._resolve(name) is not None

    def __missing__(self, name):
        function = self._resolve(name) if isinstance(name, str) else None
        if function is None:
            raise KeyError(name)
        return function

    def get(self, name, default=None):
        try:
            return self[name]
        except KeyError:
            return default


def _count_trailing_newlines(text):
    count = 0
    for char in reversed(text):
        if char != '\n':
            break
        count += 1
    return count


class DirectTemplate(object):
    """One template compiled for direct rendering; ``NotDirect`` if it cannot be."""

    def __init__(self, source, filter_loader=None, test_loader=None):
        source = str(source)
        env = SandboxedEnvironment(trim_blocks=True, lstrip_blocks=False, newline_sequence='\n',
                                   keep_trailing_newline=False, autoescape=False, undefined=StrictUndefined,
                                   finalize=_finalize, extensions=_EXTENSIONS)
        try:
            tree = env.parse(source)
        except Exception as exc:  # pylint: disable=broad-except
            raise NotDirect('does not parse: %s' % exc)
        # A filter of the same name as a Jinja2 builtin is Ansible's, as in Ansible's environment.
        env.filters = _Plugins(filter_loader, DEFAULT_FILTERS, _listing)
        env.tests = _Plugins(test_loader, DEFAULT_TESTS, lambda function: function)
        for node in tree.find_all((nodes.Filter, nodes.Test)):
            kind, plugins = ('filter', env.filters) if isinstance(node, nodes.Filter) else ('test', env.tests)
            if node.name not in plugins:
                raise NotDirect('%s %s not found' % (kind, node.name))
        env.globals = {'range': range}
        self._template = env.from_string(tree)
        self._trailing = _count_trailing_newlines(source)

    def render(self, variables):
        """Text of the template for ``variables`` (a dict of plain data)."""
        text = self._template.render(variables)
        # Ansible keeps the template's trailing newlines (preserve_trailing_newlines).
        missing = self._trailing - _count_trailing_newlines(text)
        return text + '\n' * missing if missing > 0 else text


def is_plain(value, depth=0):
    """True for data a template can read without Ansible's help: str (not a template), numbers,
    bools, None, and lists and dicts of those."""
    if depth > 50:
        return False
    if value is None or isinstance(value, (bool, int, float)):
        return True
    if isinstance(value, str):
        return not possibly_template(value)
    if isinstance(value, (list, tuple)):
        return all(is_plain(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and is_plain(item, depth + 1) for key, item in value.items())
    return False


def plain_data(value, resolve_string=str.__str__, strict=False):
    """A copy of ``value`` in exact builtin types, without Ansible's data tags or lazy containers.

    Each string goes through ``resolve_string`` (by default an exact ``str`` copy). A value of any
    other type is kept as it is, or with ``strict`` refused with NotDirect.
    """
    # Exact builtin types first, without isinstance chains: most of a fleet's 100,000 entries.
    kind = type(value)
    if kind is dict:
        return dict((str.__str__(key) if isinstance(key, str) else key, plain_data(item, resolve_string, strict))
                    for key, item in value.items())
    if kind is str:
        return resolve_string(value)
    if kind is int or kind is bool or value is None:
        return value
    if isinstance(value, str):
        return resolve_string(value)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, dict):
        return dict((str.__str__(key) if isinstance(key, str) else key, plain_data(item, resolve_string, strict))
                    for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [plain_data(item, resolve_string, strict) for item in value]
    if strict:
        raise NotDirect('a %s is not plain data' % type(value).__name__)
    return value
