# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ansible-core APIs of the phone_profiles action and the fleet vars plugin, on every
release the collection supports (2.16 to 2.19), written once.

ansible-core 2.19 (data tagging) templates only strings marked as trusted templates (what it
loads from group_vars or a template file); a template's result, a registered result or a
lookup's value is plain text that is never templated again, and an action may resolve its
arguments itself (``finalize_task_arg``). Releases before 2.19 template every string except
those marked unsafe (registered results, lookups), template a task's arguments in full before
the action runs, and template a variable's value again whenever a template reads it. So there:

- the fleet reaches the action resolved: templating it again would template a value twice
  (and a registered result's ``{{`` would become a template);
- every value the action has resolved itself (shared variables, the phone entry) is marked
  unsafe before a template reads it, so it is read as it is, as 2.19 reads it.

Each helper takes the 2.19 API where the release has it (the fast path) and the older one
otherwise; the older paths that also run on 2.19 are tested there too.
"""

from __future__ import annotations

from ansible.module_utils.common.text.converters import to_text

try:  # ansible-core >= 2.19: only values marked trusted are templates
    from ansible.template import trust_as_template
    DATA_TAGGING = True
except ImportError:  # ansible-core < 2.19 templates every string
    DATA_TAGGING = False

    def trust_as_template(value):
        """The value itself: this ansible-core templates every string anyway."""
        return value

if DATA_TAGGING:
    def final_value(value):
        """``value`` as a template reads it without templating it again: as it is on 2.19."""
        return value
else:
    from ansible.utils.unsafe_proxy import wrap_var as final_value

__all__ = ['DATA_TAGGING', 'trust_as_template', 'final_value', 'read_text_file', 'read_text_file_fallback',
           'resolve_fleet_string', 'profile_templar', 'render_profile', 'resolve_variable', 'resolve_variable_fallback']


def read_text_file_fallback(loader, path):
    """The text of ``path`` (vault-decrypted) through the loader of ansible-core < 2.19, in
    memory: ``get_real_file`` would write a decrypted copy to disk."""
    return to_text(loader._get_file_contents(path)[0], errors='surrogate_or_strict')  # pylint: disable=protected-access


def read_text_file(loader, path):
    """The text of ``path``, vault-decrypted with the run's secrets; AnsibleError if unreadable."""
    if hasattr(loader, 'get_text_file_contents'):  # ansible-core >= 2.19 (tags the text with its origin)
        return loader.get_text_file_contents(path)
    return read_text_file_fallback(loader, path)


def resolve_fleet_string(templar, text):
    """A string of the task's ``phones`` resolved as the task executor would resolve it.

    2.19 leaves the entries to the action (``finalize_task_arg``): a trusted template is
    templated here. Older releases templated the whole argument before the action ran."""
    if DATA_TAGGING and templar.is_possibly_template(text):
        return templar.template(text)
    return text


def profile_templar(templar, searchpath, variables):
    """A copy of the action's templar as ansible.builtin.template sets one up: over ``searchpath``
    and ``variables``, and (before 2.19, where a templar may be native) Ansible's text environment."""
    if DATA_TAGGING:
        return templar.copy_with_new_env(searchpath=searchpath, available_variables=variables)
    from ansible.template import AnsibleEnvironment  # pylint: disable=import-outside-toplevel
    return templar.copy_with_new_env(environment_class=AnsibleEnvironment, searchpath=searchpath, available_variables=variables)


def render_profile(templar, text, overrides):
    """The text of template ``text`` over the templar's variables, as ansible.builtin.template
    renders it (trailing newlines kept, backslashes as written, no conversion of the result)."""
    if DATA_TAGGING:
        result = templar.template(text, escape_backslashes=False, overrides=overrides)
        # A lone expression gives its native value; the template action writes it as text.
        return '' if result is None else to_text(result)
    return templar.do_template(text, preserve_trailing_newlines=True, escape_backslashes=False, overrides=overrides)


def resolve_variable_fallback(templar, name):
    """Variable ``name`` as a template of ansible-core < 2.19 reads it (AnsibleJ2Vars): its value
    templated, except ``vars``, ``hostvars`` and unsafe values, which are read as they are."""
    from ansible.vars.hostvars import HostVars  # pylint: disable=import-outside-toplevel
    value = templar.available_variables[name]
    if (name == 'vars' and isinstance(value, dict)) or isinstance(value, HostVars) or getattr(type(value), '__UNSAFE__', False):
        return value
    return templar.template(value)


def resolve_variable(templar, name):
    """The value of variable ``name`` as a template reads it."""
    if hasattr(templar, 'resolve_variable_expression'):  # ansible-core >= 2.19
        return templar.resolve_variable_expression(name)
    return resolve_variable_fallback(templar, name)
