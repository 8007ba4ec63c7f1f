# -*- coding: utf-8 -*-
"""The fleet source in real ansible-playbook runs: the same phones as ``mpp_phones`` in group_vars
and as ``mpp_phones_from`` (YAML, CSV and a vault-encrypted JSON file, relative to the inventory)
give byte-identical profile trees; the fleet lookup gives the same entries both ways; bad
``phones_from`` arguments fail naming the problem."""

from __future__ import annotations

import json
import subprocess

import yaml

from mpp_harness import BIN, ansible_env, run_playbook

PUSH = """
- hosts: localhost
  gather_facts: false
  vars:
    mpp_server_fqdn: prov.fleet.test
    mpp_profiles_dest: %s
    mpp_profiles_group: "0"
    mpp_profiles_create_dest: true
  tasks:
    - name: fleet
      ansible.builtin.debug:
        msg: "{{ query('phoneprov.mpp.fleet') }}"
    - name: fleet of a host
      ansible.builtin.debug:
        msg: "{{ query('phoneprov.mpp.fleet', host='localhost') | map(attribute='mac') | list }}"
    - name: push
      ansible.builtin.include_role:
        name: phoneprov.mpp.phone_profiles
"""

BAD = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: both
      phoneprov.mpp.phone_profiles:
        phones: [{mac: '000e08abcd09'}]
        phones_from: fleet-source/a.yml
        template: %(template)s
        dest: %(dest)s
      ignore_errors: true
    - name: missing
      phoneprov.mpp.phone_profiles:
        phones_from: [fleet-source/a.yml, fleet-source/none.csv]
        template: %(template)s
        dest: %(dest)s
      ignore_errors: true
    - name: neither
      phoneprov.mpp.phone_profiles:
        template: %(template)s
        dest: %(dest)s
      ignore_errors: true
"""

MANIFEST = '.phone_profiles.json'
SECRETS = "site_secret: from-group-vars\n"
PHONES = [
    {'mac': '00:0e:08:ab:cd:01', 'model': 'CP-8841-3PCC', 'serial': 'FCH00000001',
     'lines': [{'user_id': '1001', 'password': '{{ site_secret }}', 'display_name': 'Desk 1', 'proxy': 'sip.test'}]},
    {'mac': '000e08abcd02', 'model': 'CP-8851-3PCC', 'lines': [{'user_id': '1002', 'display_name': 'Desk {{ 40 + 2 }}'}]},
    {'mac': '000e08abcd03', 'model': 'CP-8841-3PCC', 'serial': 'FCH00000003',
     'lines': [{'user_id': '1003', 'password': 'pw-{{ site_secret }}', 'proxy': 'sip.test'}]},
    {'mac': '000e08abcd04', 'lines': [{'user_id': '1004', 'password': 'plain-secret'}]},
]
CSV = ('mac,model,serial,lines.0.user_id,lines.0.password,lines.0.display_name,lines.0.proxy\n'
       '000e08abcd02,CP-8851-3PCC,,1002,,Desk {{ 40 + 2 }},\n'
       '000e08abcd03,CP-8841-3PCC,FCH00000003,1003,pw-{{ site_secret }},,sip.test\n')


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def tree(directory):
    """File name -> bytes; the manifest without each file's ``stat`` (its own inode and mtime)."""
    files = dict((path.name, path.read_bytes()) for path in sorted(directory.iterdir()))
    manifest = json.loads(files.pop(MANIFEST))
    for record in manifest['files'].values():
        record.pop('stat', None)
    files[MANIFEST] = manifest
    return files


def test_phones_from_gives_the_profiles_of_the_same_mpp_phones_byte_for_byte(tmp_path):
    inline, source = tmp_path / 'inline', tmp_path / 'source'
    write(inline / 'group_vars' / 'all' / 'fleet.json', json.dumps({'mpp_phones': PHONES}))
    write(inline / 'group_vars' / 'all' / 'secrets.yml', SECRETS)
    by_value = run_playbook(inline, PUSH % (inline / 'docroot'))
    assert by_value.rc == 0, by_value.stdout[-3000:]

    write(source / 'group_vars' / 'all' / 'secrets.yml', SECRETS)
    write(source / 'group_vars' / 'all' / 'fleet.yml', 'mpp_phones_from: [fleet-source/a.yml, fleet-source/sites]\n')
    write(source / 'fleet-source' / 'a.yml', yaml.safe_dump(PHONES[:1]))
    write(source / 'fleet-source' / 'sites' / 'b.csv', CSV)
    vaulted = source / 'fleet-source' / 'sites' / 'c.json'
    write(vaulted, json.dumps({'mpp_phones': PHONES[3:]}))
    secret = tmp_path / 'vault-pass'
    secret.write_text('fleet-source-vault-password\n')
    subprocess.run([str(BIN / 'ansible-vault'), 'encrypt', '--vault-password-file', str(secret), str(vaulted)],
                   check=True, capture_output=True, env=ansible_env())
    vault = ('--vault-password-file', str(secret))
    from_files = run_playbook(source, PUSH % (source / 'docroot'), args=vault)
    assert from_files.rc == 0, from_files.stdout[-3000:]

    # The same bytes under the same names, and the same manifest records (input digests included).
    assert by_value.task('push')  # the role ran in both
    assert from_files.task('Publish one profile per phone')['counts']['created'] == 4
    assert tree(source / 'docroot') == tree(inline / 'docroot')
    assert b'from-group-vars' in tree(source / 'docroot')['000e08abcd01.xml']
    # The lookup hands consumers the same resolved entries either way.
    assert from_files.task('fleet')['msg'] == by_value.task('fleet')['msg']
    assert from_files.task('fleet')['msg'][2]['lines'][0]['password'] == 'pw-from-group-vars'
    macs = [phone['mac'] for phone in PHONES]
    assert from_files.task('fleet of a host')['msg'] == by_value.task('fleet of a host')['msg'] == macs
    again = run_playbook(source, PUSH % (source / 'docroot'), args=vault)
    assert again.changed == 0 and again.task('Publish one profile per phone')['counts']['unchanged'] == 4


def test_bad_phones_from_fails_naming_the_problem(tmp_path):
    write(tmp_path / 'fleet-source' / 'a.yml', "- mac: '000e08abcd01'\n")
    template = tmp_path / 'profile.xml.j2'
    write(template, '<flat-profile/>\n')
    dest = tmp_path / 'docroot'
    run = run_playbook(tmp_path, BAD % {'template': template, 'dest': dest})
    assert run.task('both')['msg'] == ('give phones or phones_from, not both: phones has 1 entries, '
                                       'phones_from reads fleet-source/a.yml')
    assert run.task('missing')['msg'] == ('phones_from: fleet source fleet-source/none.csv: no such file or directory '
                                          '(looked for %s)' % (tmp_path / 'fleet-source/none.csv'))
    assert run.task('neither')['msg'] == 'missing required argument: phones (or phones_from)'
    assert not dest.exists()
