# -*- coding: utf-8 -*-
"""The push hardened (issue 13, "The push"), through the real ansible-playbook and the role.

- ``--diff`` never shows a secret: the redaction rule shared with phone_check
  (module_utils/redaction.py) masks ``Admin_Passwd``, ``GPP_*``, CDATA values and attribute
  values, in the json result and in the default callback's text alike; ``mpp_profiles_redact``
  adds names.
- A phone value that came from a lookup or a registered result is never templated again (no
  ``lookup('pipe', ...)`` runs on the controller): test_core_versions.py imports that case, so
  ``make core-matrix`` runs it on ansible-core 2.16 to 2.19.
- The role's default template escapes every value (no parameter injected through
  ``resync_periodic``) and refuses a bad element name, naming the phone and the name.
"""

from __future__ import annotations

import subprocess
from xml.etree import ElementTree

import pytest

from mpp_harness import BIN, ansible_env, playbook_text, run_playbook

MAC = '000e08ab0001'
# A profile with secrets where the old mask (names with password/secret/key/ikm) did not look;
# every line within the diff's context of the changed User_ID_1_.
SECRET_TEMPLATE = """<flat-profile>
  <Admin_Passwd>{{ phone.admin }}</Admin_Passwd>
  <GPP_A>{{ phone.gpp }}</GPP_A>
  <Password_1_><![CDATA[{{ phone.cdata }}]]></Password_1_>
  <User_ID_1_>{{ phone.user }}</User_ID_1_>
  <SIP_Pwd_2_ value="{{ phone.attr }}"/>
  <Site_Token>{{ phone.token }}</Site_Token>
</flat-profile>
"""


def _secrets(run):
    return dict(admin='admin-secret-%d' % run, gpp='gpp-secret-%d' % run, cdata='cdata-secret-%d' % run,
                attr='attr-secret-%d' % run, token='token-secret-%d' % run)


def _role_play(dest, template, phones, **role_vars):
    role_vars.update(mpp_phones=phones, mpp_profiles_dest=str(dest), mpp_profiles_group='root',
                     mpp_profiles_server_fqdn='prov.example.test')
    if template:
        role_vars['mpp_profiles_template'] = str(template)
    return playbook_text([{'name': 'push', 'ansible.builtin.include_role': {'name': 'phone_profiles'}, 'vars': role_vars}])


def _output(result):
    return 'rc=%s\nstdout:\n%s\nstderr:\n%s' % (result.rc, result.stdout[-4000:], result.stderr[-4000:])


@pytest.fixture(scope='module')
def diff_runs(tmp_path_factory):
    """Three pushes of one phone: published quietly, then changed twice (secrets too) with
    ``--diff``, once with the json callback, once with Ansible's default callback and ``-v``."""
    work = tmp_path_factory.mktemp('diff')
    dest = work / 'docroot'
    dest.mkdir()
    template = work / 'secrets.xml.j2'
    template.write_text(SECRET_TEMPLATE)

    def play(run):
        phone = dict(_secrets(run), mac=MAC, user=str(1000 + run))
        return _role_play(dest, template, [phone], mpp_profiles_redact=['*Passwd*', '*Pwd*', '*Password*', 'GPP_*', 'Site_Token'])

    first = run_playbook(work / 'first', play(1))
    assert first.rc == 0, _output(first)
    as_json = run_playbook(work / 'json', play(2), diff=True)
    results_text = '\n'.join(path.read_text() for path in (work / 'json').glob('results-*.json'))
    playbook_path = work / 'text' / 'play.yml'
    playbook_path.parent.mkdir()
    playbook_path.write_text(play(3))
    (work / 'text' / 'inventory.ini').write_text('localhost ansible_connection=local ansible_python_interpreter=%s\n' % (BIN / 'python'))
    as_text = subprocess.run([str(BIN / 'ansible-playbook'), '-v', '--diff', '-i', 'inventory.ini', 'play.yml'],
                             cwd=str(work / 'text'), env=ansible_env({'ANSIBLE_STDOUT_CALLBACK': 'default'}),
                             capture_output=True, text=True, timeout=300, check=False)
    return as_json, results_text, as_text


def test_diff_shows_changes_but_no_secret(diff_runs):
    as_json, results_text, as_text = diff_runs
    assert as_json.rc == 0 and as_text.returncode == 0, (_output(as_json), as_text.stdout[-4000:], as_text.stderr[-4000:])
    diff = as_json.task('Publish one profile per phone')['diff']['prepared']
    # The diff is there and says what changed: the test would pass on no diff at all otherwise.
    assert '-  <User_ID_1_>1001</User_ID_1_>\n' in diff and '+  <User_ID_1_>1002</User_ID_1_>\n' in diff, diff
    # Masked, a changed secret looks the same before and after: a context line of the diff.
    assert '   <Admin_Passwd>********</Admin_Passwd>\n' in diff, diff
    assert '   <Password_1_><![CDATA[********]]></Password_1_>\n' in diff, diff
    assert '   <SIP_Pwd_2_ value="********"/>\n' in diff, diff
    assert '   <Site_Token>********</Site_Token>\n' in diff, diff  # a name mpp_profiles_redact added
    assert '+  <User_ID_1_>1003</User_ID_1_>' in as_text.stdout, as_text.stdout[-4000:]
    outputs = {'json stdout': as_json.stdout, 'json stderr': as_json.stderr, 'json results': results_text,
               'default stdout': as_text.stdout, 'default stderr': as_text.stderr}
    for run in (1, 2, 3):
        for secret in _secrets(run).values():
            shown = [name for name, text in outputs.items() if secret in text]
            assert not shown, (secret, shown, diff)


def _parse(path):
    return [(element.tag, element.text) for element in ElementTree.parse(str(path)).getroot()]


INJECTION = '3600</Resync_Periodic><Admin_Passwd>x</Admin_Passwd><Resync_Periodic>1'


def test_default_template_escapes_every_value(tmp_path):
    dest = tmp_path / 'docroot'
    dest.mkdir()
    phone = {'mac': MAC, 'resync_periodic': INJECTION, 'line1': {'user_id': '1001', 'display_name': 'A & B <x>'},
             'parameters': {'Station_Name': '"quoted" </Station_Name><Admin_Passwd>y</Admin_Passwd>'}}
    result = run_playbook(tmp_path, _role_play(dest, None, [phone]))
    assert result.rc == 0, _output(result)
    elements = _parse(dest / ('%s.xml' % MAC))
    assert 'Admin_Passwd' not in [name for name, _value in elements], elements
    assert ('Resync_Periodic', INJECTION) in elements and ('Display_Name_1_', 'A & B <x>') in elements, elements


def test_default_template_refuses_a_bad_element_name(tmp_path):
    dest = tmp_path / 'docroot'
    dest.mkdir()
    phones = [{'mac': '000e08ab0002'}, {'mac': MAC, 'parameters': {'Admin_Passwd>x</Admin_Passwd><y': 1}}]
    result = run_playbook(tmp_path, _role_play(dest, None, phones))
    assert result.rc != 0
    message = result.task('Publish one profile per phone')['msg']
    assert 'phone #2 (mac %s)' % MAC in message and "'Admin_Passwd>x</Admin_Passwd><y'" in message, message
    assert 'not a flat-profile element name' in message, message
    assert list(dest.iterdir()) == []  # nothing written, not even the good phone's profile


def _pipe_payload(marker):
    return "{{ lookup('ansible.builtin.pipe', 'touch %s') }} <&>" % marker


def test_lookup_and_registered_values_are_never_templated_again(tmp_path):
    """A value from ``lookup('file')`` (set_fact) and a command's registered stdout, in a phone
    entry and in a shared variable, rendered directly and through Ansible's templar (one push
    each, in one run): the ``pipe`` lookup in them never runs, the text lands in the profile as
    it is (escaped)."""
    markers = dict((name, tmp_path / ('ran-%s' % name)) for name in ('fact', 'registered', 'shared'))
    (tmp_path / 'from-file.txt').write_text(_pipe_payload(markers['fact']) + '\n')
    for name in ('registered', 'shared'):
        (tmp_path / ('%s.txt' % name)).write_text(_pipe_payload(markers[name]) + '\n')
    phone = {'mac': MAC, 'line1': {'user_id': '1001', 'display_name': '{{ from_file }}'},
             'parameters': {'Station_Name': '{{ registered.stdout }}'}}
    tasks = [
        {'name': 'a fact from a lookup', 'ansible.builtin.set_fact': {
            'from_file': "{{ lookup('ansible.builtin.file', 'from-file.txt') }}", 'shared': "{{ lookup('ansible.builtin.file', 'shared.txt') }}"}},
        {'name': 'a registered result', 'ansible.builtin.command': {'argv': ['cat', 'registered.txt']},
         'register': 'registered', 'changed_when': False},
    ]
    for direct_render in (True, False):
        dest = tmp_path / ('direct-%s' % direct_render)
        dest.mkdir()
        tasks.append({'name': 'push', 'ansible.builtin.include_role': {'name': 'phone_profiles'}, 'vars': dict(
            mpp_phones=[phone], mpp_profiles_dest=str(dest), mpp_profiles_group='root', mpp_profiles_server_fqdn='prov.example.test',
            mpp_profiles_direct_render=direct_render, mpp_profiles_parameters={'Text_Logo': '{{ shared }}'})})
    result = run_playbook(tmp_path, playbook_text(tasks))
    assert result.rc == 0, _output(result)
    assert [name for name, marker in markers.items() if marker.exists()] == []
    for direct_render in (True, False):
        path = tmp_path / ('direct-%s' % direct_render) / ('%s.xml' % MAC)
        elements, profile = dict(_parse(path)), path.read_text()
        for name, element in (('fact', 'Display_Name_1_'), ('registered', 'Station_Name'), ('shared', 'Text_Logo')):
            assert elements[element] == _pipe_payload(markers[name]), (direct_render, name, profile)
            assert '%s &lt;&amp;&gt;</%s>' % (markers[name], element) in profile.replace("') }}", ''), profile
