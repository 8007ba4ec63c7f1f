# -*- coding: utf-8 -*-
"""The phoneprov.mpp.fleet vars plugin in real ansible-playbook runs: fleet/ files become
mpp_phones for the role (templates in them resolved as in group_vars), group/host precedence as group_vars, bad files stop the run naming the
file, vault-encrypted files are decrypted with the run's vault secrets."""

from __future__ import annotations

import json
import subprocess
from xml.etree import ElementTree

from mpp_harness import BIN, ansible_env, run_playbook

ENABLED = {'ANSIBLE_VARS_ENABLED': 'host_group_vars,phoneprov.mpp.fleet'}

PUSH = """
- hosts: localhost
  gather_facts: false
  vars:
    mpp_server_fqdn: prov.fleet.test
    mpp_profiles_dest: %s
    mpp_profiles_group: "0"
    mpp_profiles_create_dest: true
    site_secret: from-the-play
  tasks:
    - name: fleet
      ansible.builtin.debug:
        msg: "{{ mpp_phones | map(attribute='mac') | list }}"
    - name: push
      ansible.builtin.include_role:
        name: phoneprov.mpp.phone_profiles
"""

SHOW = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: fleet
      ansible.builtin.debug:
        msg: "{{ mpp_phones | map(attribute='mac') | list }}"
"""


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def profile(path):
    return dict((child.tag, child.text or '') for child in ElementTree.parse(str(path)).getroot())


def test_fleet_files_are_mpp_phones_for_the_role(tmp_path):
    dest = tmp_path / 'docroot'
    write(tmp_path / 'fleet' / 'all' / 'a-site.yml',
          "- mac: '00:0e:08:ab:cd:01'\n  model: CP-8841-3PCC\n"
          "  lines: [{user_id: '1001', password: '{{ site_secret }}', display_name: 'Desk {{ 40 + 2 }}', proxy: sip.test}]\n"
          "- mac: '00:0e:08:ab:cd:02'\n")
    write(tmp_path / 'fleet' / 'all' / 'b-site.json', json.dumps({'mpp_phones': [{'mac': '000e08abcd03'}]}))
    run = run_playbook(tmp_path, PUSH % dest, env=ENABLED)
    assert run.rc == 0, run.stdout[-3000:]
    assert run.task('fleet')['msg'] == ['00:0e:08:ab:cd:01', '00:0e:08:ab:cd:02', '000e08abcd03']
    assert sorted(path.name for path in dest.iterdir() if path.suffix == '.xml') == \
        ['000e08abcd01.xml', '000e08abcd02.xml', '000e08abcd03.xml']
    first = profile(dest / '000e08abcd01.xml')
    # Templates in fleet files work as in group_vars (a vaulted secret referenced by name, say).
    assert first['Display_Name_1_'] == 'Desk 42' and first['Password_1_'] == 'from-the-play'
    assert first['User_ID_1_'] == '1001'
    again = run_playbook(tmp_path, PUSH % dest, env=ENABLED)
    assert again.changed == 0, again.stdout[-2000:]
    assert again.task('Publish one profile per phone')['counts']['unchanged'] == 3


def test_group_then_host_fleet_replaces_the_wider_one(tmp_path):
    write(tmp_path / 'groups.ini', '[edge]\nlocalhost\n')
    write(tmp_path / 'fleet' / 'all.yml', "- mac: '000e08000001'\n- mac: '000e08000002'\n- mac: '000e08000003'\n")
    write(tmp_path / 'fleet' / 'edge' / 'phones.yml', "- mac: '000e08000011'\n- mac: '000e08000012'\n")
    args = ('-i', str(tmp_path / 'groups.ini'))
    assert run_playbook(tmp_path, SHOW, env=ENABLED, args=args).task('fleet')['msg'] == ['000e08000011', '000e08000012']
    write(tmp_path / 'fleet' / 'localhost.json', '[{"mac": "000e08000021"}]')
    assert run_playbook(tmp_path, SHOW, env=ENABLED, args=args).task('fleet')['msg'] == ['000e08000021']
    # Without the plugin enabled nothing is read.
    plain = run_playbook(tmp_path, SHOW, args=args)
    assert plain.rc != 0 and 'mpp_phones' in json.dumps(plain.task('fleet'))


def _raw_run(tmp_path, playbook_text, extra=()):
    play = tmp_path / 'raw.yml'
    play.write_text(playbook_text)
    (tmp_path / 'inventory.ini').write_text('localhost ansible_connection=local ansible_python_interpreter=%s\n'
                                            % (BIN / 'python'))
    env = ansible_env(ENABLED)
    env['ANSIBLE_STDOUT_CALLBACK'] = 'default'
    return subprocess.run([str(BIN / 'ansible-playbook'), '-i', str(tmp_path / 'inventory.ini'), str(play)] + list(extra),
                          cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=300, check=False)


def test_bad_fleet_file_stops_the_run_naming_it_and_publishes_nothing(tmp_path):
    dest = tmp_path / 'docroot'
    write(tmp_path / 'fleet' / 'all.yml', "- mac: '000e08abcd01'\n- mac: '000e08abcd02'\n")
    assert run_playbook(tmp_path, PUSH % dest, env=ENABLED).rc == 0
    before = dict((path.name, (path.read_bytes(), path.stat().st_mtime_ns)) for path in dest.iterdir())
    write(tmp_path / 'fleet' / 'all.yml', "- mac: '000e08abcd01'\n- mac: '000e08abcd02'\n- mac: 00:0e:08:ab:cd:zz\n")
    proc = _raw_run(tmp_path, PUSH % dest)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert 'fleet/all.yml: phone #3 (mac 00:0e:08:ab:cd:zz): invalid MAC address' in output, output[-3000:]
    assert dict((path.name, (path.read_bytes(), path.stat().st_mtime_ns)) for path in dest.iterdir()) == before


def test_vault_encrypted_fleet_file_is_decrypted_with_the_run_secrets(tmp_path):
    dest = tmp_path / 'docroot'
    secret = tmp_path / 'vault-pass'
    secret.write_text('fleet-vault-password\n')
    keys = tmp_path / 'fleet' / 'all.yml'
    write(keys, "- mac: '000e08abcd01'\n  key: phone-key-one-0123456789abcdef\n")
    subprocess.run([str(BIN / 'ansible-vault'), 'encrypt', '--vault-password-file', str(secret), str(keys)],
                   check=True, capture_output=True, env=ansible_env())
    assert keys.read_text().startswith('$ANSIBLE_VAULT')
    no_secret = _raw_run(tmp_path, PUSH % dest)
    assert no_secret.returncode != 0 and 'fleet/all.yml' in no_secret.stdout + no_secret.stderr
    run = run_playbook(tmp_path, PUSH % dest, env=ENABLED, extra_vars={'mpp_profiles_encrypt': 'aes-256-cbc'},
                       args=('--vault-password-file', str(secret)))
    assert run.rc == 0, run.stdout[-3000:]
    data = (dest / '000e08abcd01.xml').read_bytes()
    plain = subprocess.run(['openssl', 'enc', '-d', '-aes-256-cbc', '-md', 'md5', '-k', 'phone-key-one-0123456789abcdef'],
                           input=data, capture_output=True, check=True).stdout
    assert ElementTree.fromstring(plain).tag == 'flat-profile'
    assert 'phone-key-one-0123456789abcdef' not in run.stdout


def test_fleet_next_to_the_playbook_and_stage_task_keeps_it_out_of_inventory_syncs(tmp_path):
    # The AWX layout (docs/awx.md): the fleet sits next to the project's playbooks, not next to the
    # inventory source, and `stage = task` keeps it out of `ansible-inventory --list` (an inventory sync).
    project = tmp_path / 'project'
    write(project / 'show.yml', SHOW)
    write(project / 'fleet' / 'all' / 'berlin.yml', "- mac: '000e08000031'\n- mac: '000e08000032'\n")
    elsewhere = tmp_path / 'inventory-source'
    at_task = dict(ENABLED, PHONEPROV_MPP_FLEET_STAGE='task')
    run = run_playbook(elsewhere, project / 'show.yml', env=at_task)
    assert run.task('fleet')['msg'] == ['000e08000031', '000e08000032']

    def inventory_list(env):
        proc = subprocess.run([str(BIN / 'ansible-inventory'), '-i', str(elsewhere / 'inventory.ini'),
                               '--playbook-dir', str(project), '--list'],
                              cwd=str(elsewhere), env=ansible_env(env), capture_output=True, text=True, timeout=120, check=True)
        return json.loads(proc.stdout)

    assert 'mpp_phones' not in json.dumps(inventory_list(at_task))
    # The same sync with the plugin at every stage would import the fleet into the inventory.
    assert '000e08000031' in json.dumps(inventory_list(ENABLED))
