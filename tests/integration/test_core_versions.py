# -*- coding: utf-8 -*-
"""The declared ansible-core range (2.16 to 2.19), end to end, on the release of the Python that runs it.

``make core-matrix`` runs this file once per release, each with the Python of its own virtual
environment (``.build/core-<version>``; 2.19 is ``.venv``) and ``MPP_CORE_VERSION`` naming the
release expected there, so that ansible-playbook, the modules and their libraries all come from
that environment (2.16's pins the minimum cryptography and dnspython). Without
``MPP_CORE_VERSION`` it skips (``make integration`` would only repeat the 2.19 run); alone:
``MPP_CORE_VERSION=2.16 .build/core-2.16/bin/python -m pytest -q tests/integration/test_core_versions.py``.

- The lab on localhost as ``make demo`` runs it (test_site.py's Lab: own state directory, ports
  and nginx site): the first run gives behaviour A for every phone, the second changes nothing.
- The templating difference of releases before 2.19, where every string is a template unless it
  is marked unsafe: a phone entry from a registered result or a lookup is read as it is, never
  templated again, and a template in the fleet is templated exactly once, as on 2.19.
"""

from __future__ import annotations

import os

import pytest

from ansible.release import __version__ as ANSIBLE_CORE_VERSION

import test_push_hardening
import test_site
from mpp_harness import playbook_text, run_playbook
from test_site import FLEET, _ma, _output

# The push's case of issue 13 on every release: a lookup's or a registered value through the role's
# default template, rendered directly and by the templar, never runs the lookup inside it (one run).
test_push_values_from_lookups_are_never_templated = test_push_hardening.test_lookup_and_registered_values_are_never_templated_again

# test_site.py's lab: its own state directory, ports and nginx site, under the system nginx lock.
lab = test_site.lab
EXPECTED = os.environ.get('MPP_CORE_VERSION')
pytestmark = pytest.mark.skipif(not EXPECTED, reason='run by make core-matrix, once per ansible-core release (MPP_CORE_VERSION names it)')


def test_the_release_asked_for():
    """A run of the matrix tests the release it names, not whatever the PATH finds."""
    assert ANSIBLE_CORE_VERSION.split('.')[:2] == EXPECTED.split('.')[:2], (ANSIBLE_CORE_VERSION, EXPECTED)


def test_lab_all_phones_a_then_nothing_changes(lab, tmp_path):
    first = lab.run(tmp_path / 'first')
    assert first.rc == 0 and first.failed == 0, _output(first)
    summary = first.task('Emulated resync of each phone')
    text = '\n'.join(summary['msg'] if isinstance(summary['msg'], list) else [summary['msg']])
    for phone in FLEET:
        assert '%s: A - ' % _ma(phone['mac']) in text, text
    second = lab.run(tmp_path / 'second')
    assert second.rc == 0 and second.failed == 0, _output(second)
    assert second.changed == 0, [name for name, res in second.tasks if res.get('changed')]


TEMPLATE = '<flat-profile>\n  <Display_Name_1_>{{ phone.display_name }}</Display_Name_1_>\n  <Note>{{ site_note }}</Note>\n</flat-profile>\n'
# Entry -> what its profile must show: registered and lookup values as they are; templates once.
ENTRIES = [
    ('000e08c0de01', "{{ registered.stdout }}", "{{ lookup('ansible.builtin.env', 'HOME') }}"),
    ('000e08c0de02', "{{ lookup('ansible.builtin.file', 'value.txt') }}", '{{ 7 * 6 }}'),
    ('000e08c0de03', "{{ '{{' }} 6 * 7 {{ '}}' }}", '{{ 6 * 7 }}'),
    ('000e08c0de04', '{{ 6 * 7 }}', '42'),
]


@pytest.mark.parametrize('direct_render', [True, False], ids=['direct', 'templar'])
def test_registered_and_lookup_values_are_never_templated_again(tmp_path, direct_render):
    """Through plain Jinja2 and through Ansible's templar alike (``direct_render``)."""
    dest = tmp_path / 'docroot'
    dest.mkdir()
    template = tmp_path / 'profile.xml.j2'
    template.write_text(TEMPLATE)
    (tmp_path / 'value.txt').write_text('{{ 7 * 6 }}\n')
    tasks = [
        {'name': 'a registered result holding a template', 'changed_when': False, 'register': 'registered',
         'ansible.builtin.command': {'argv': ['printf', '%s', "{{ '{{' }} lookup('ansible.builtin.env', 'HOME') {{ '}}' }}"]}},
        {'name': 'push', 'phoneprov.mpp.phone_profiles': {
            'dest': str(dest), 'template': str(template), 'direct_render': direct_render,
            'phones': [{'mac': mac, 'display_name': value} for mac, value, _expected in ENTRIES]}},
    ]
    text = playbook_text(tasks, vars={'site_note': "{{ 'note ' ~ registered.stdout }}"})
    result = run_playbook(tmp_path, text)
    assert result.rc == 0, _output(result)
    for mac, _value, expected in ENTRIES:
        profile = (dest / ('%s.xml' % mac)).read_text()
        assert '<Display_Name_1_>%s</Display_Name_1_>' % expected in profile, (ANSIBLE_CORE_VERSION, profile)
        # A shared variable built from a registered value: templated once, its value as it is.
        assert "<Note>note {{ lookup('ansible.builtin.env', 'HOME') }}</Note>" in profile, profile
