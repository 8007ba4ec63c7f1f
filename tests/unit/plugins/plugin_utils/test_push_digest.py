# -*- coding: utf-8 -*-
"""The push digest: what decides that a push has nothing to render or send."""

from __future__ import annotations

from ansible_collections.phoneprov.mpp.plugins.module_utils.phone_profiles_spec import task_argument_spec
from ansible_collections.phoneprov.mpp.plugins.plugin_utils.phone_entries import check_phones
from ansible_collections.phoneprov.mpp.plugins.plugin_utils.render_context import (
    LoadedTemplate, PUBLISH_OPTIONS, RenderContext, context_digest, push_digest)

FLEET = [{'mac': '00:0e:08:ab:cd:01', 'line': 1}, {'mac': '000E08ABCD02', 'line': 2}]


def task_args(**options):
    args = dict((name, spec.get('default')) for name, spec in task_argument_spec(path_type='str').items())
    args.update(template='profile.xml.j2', dest='/srv/mpp/profiles')
    args.update(options)
    return args


def digest_of(fleet=None, text='<flat-profile>{{ phone.line }}</flat-profile>\n', shared=None, **options):
    args = task_args(**options)
    templates = {'profile.xml.j2': LoadedTemplate(text, '/t/profile.xml.j2', {})}
    context = RenderContext(None, templates, {}, context_digest(args, templates, shared or {}), {}, shared or {}, set())
    return push_digest(context, args, check_phones(FLEET if fleet is None else fleet, args, str))


def test_same_inputs_same_digest():
    assert digest_of() == digest_of()
    assert len(digest_of()) == 64


def test_every_input_changes_the_digest():
    base = digest_of()
    changed = [digest_of(fleet=[FLEET[0], dict(FLEET[1], line=3)]), digest_of(fleet=list(reversed(FLEET))),
               digest_of(fleet=FLEET[:1]), digest_of(text='<flat-profile>{{ phone.line }} </flat-profile>\n'),
               digest_of(shared={'site': 'b'})]
    values = {'filename': '$MA.cfg', 'compress': True, 'encrypt': 'aes-256-cbc', 'key_field': 'k', 'key_encoding': 'hex',
              'record_size': 8192, 'mode': '0644', 'owner': 'www', 'group': 'www', 'prune': True, 'manifest': 'm.json'}
    assert set(values) == set(PUBLISH_OPTIONS)
    for name, value in values.items():
        fleet = [dict(phone, k='a' * 32, key='b' * 32) for phone in FLEET] if name in ('encrypt', 'key_field') else None
        changed.append(digest_of(fleet=fleet, **{name: value}))
    assert base not in changed
    assert len(set(changed)) == len(changed)


def test_no_digest_without_a_context_digest():
    args = task_args()
    templates = {'profile.xml.j2': LoadedTemplate('x', '/t/profile.xml.j2', {})}
    context = RenderContext(None, templates, {}, None, {}, {}, set())
    assert push_digest(context, args, check_phones(FLEET, args, str)) is None
