# -*- coding: utf-8 -*-
"""phoneprov.mpp.phone_profiles through real ansible-playbook runs; judged by openssl, gzip, XML."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import stat
import subprocess
import sys
import threading
from xml.etree import ElementTree

import pytest

from mpp_harness import COLLECTIONS, playbook_text

if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))

from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_codec import decode_profile

TEMPLATE = """<flat-profile>
  <Resync_Periodic>{{ phone.resync_periodic | default(site_periodic) }}</Resync_Periodic>
  <Profile_Rule>https://{{ site_fqdn }}/cfg/$MA.xml</Profile_Rule>
  <User_ID_1_>{{ phone.user }}</User_ID_1_>
  <Password_1_>{{ phone.password }}</Password_1_>
  <Station_Name>{{ phone_mac_colon }}</Station_Name>
</flat-profile>
"""


def phones(count, start=0):
    return [{'mac': '02:00:00:%02x:%02x:%02x' % ((i >> 16) & 255, (i >> 8) & 255, i & 255),
             'user': str(1000 + i), 'password': 'sip-pass-%d' % i, 'key': 'profile-key-%d-0123456789abcdef' % i,
             'model': 'CP-8841-3PCC'} for i in range(start, start + count)]


def ma(phone):
    return phone['mac'].replace(':', '')


def play(dest, template, **options):
    """A playbook running phone_profiles once with the phones from extra var `fleet`."""
    args = {'phones': '{{ fleet }}', 'dest': str(dest)}
    if template is not None:  # None: no default template
        args['template'] = str(template)
    args.update(options)
    return playbook_text([{'name': 'push', 'phoneprov.mpp.phone_profiles': args}], vars={
        'site_fqdn': 'prov.example.test',
        'site_periodic': 3600,
        'site_note': "{{ 'note-' ~ (phone.user | default('none')) }}",
    })


@pytest.fixture
def site(tmp_path):
    dest = tmp_path / 'docroot'
    dest.mkdir()
    template = tmp_path / 'profile.xml.j2'
    template.write_text(TEMPLATE)
    return dest, template


def snapshot(dest):
    """name -> (sha256, mtime_ns, inode) of every file in dest."""
    out = {}
    for entry in sorted(os.listdir(dest)):
        path = os.path.join(dest, entry)
        st = os.stat(path)
        with open(path, 'rb') as handle:
            out[entry] = (hashlib.sha256(handle.read()).hexdigest(), st.st_mtime_ns, st.st_ino)
    return out


def parse(path):
    root = ElementTree.parse(str(path)).getroot()
    assert root.tag == 'flat-profile'
    return dict((child.tag, child.text or '') for child in root)


def test_push_idempotent_update_one_prune(playbook, site):
    dest, template = site
    fleet = phones(5)
    (dest / 'unrelated.xml').write_text('<keep/>')
    first = playbook(play(dest, template, prune=True), extra_vars={'fleet': fleet})
    assert first.rc == 0, first.stdout[-3000:]
    result = first.task('push')
    assert result['changed'] is True
    assert sorted(result['created']) == sorted(ma(p) for p in fleet)
    assert result['counts'] == {'created': 5, 'updated': 0, 'removed': 0, 'unchanged': 0, 'total': 5}
    for phone in fleet:
        path = dest / ('%s.xml' % ma(phone))
        values = parse(path)
        assert values['User_ID_1_'] == phone['user']
        assert values['Station_Name'] == phone['mac']
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
    before = snapshot(dest)

    second = playbook(play(dest, template, prune=True), extra_vars={'fleet': fleet})
    result = second.task('push')
    assert result['changed'] is False and second.changed == 0
    assert result['counts']['unchanged'] == 5 and result['shipped'] == 0
    assert result['rendered'] == 0  # render fingerprint: nothing changed, nothing rendered
    assert snapshot(dest) == before

    fleet[2]['resync_periodic'] = 600
    third = playbook(play(dest, template, prune=True), extra_vars={'fleet': fleet})
    result = third.task('push')
    assert result['updated'] == [ma(fleet[2])] and result['shipped'] == 1 and result['rendered'] == 1
    assert parse(dest / ('%s.xml' % ma(fleet[2])))['Resync_Periodic'] == '600'
    after = snapshot(dest)
    assert [name for name in before if before[name] != after.get(name)] == ['.phone_profiles.json', '%s.xml' % ma(fleet[2])]

    # A play variable the template uses changes every profile (the fingerprint covers it).
    changed_var = playbook(play(dest, template, prune=True), extra_vars={'fleet': fleet, 'site_periodic': 7200})
    assert changed_var.task('push')['counts']['updated'] == 4  # fleet[2] has its own periodic

    gone = fleet.pop(0)
    fourth = playbook(play(dest, template, prune=True), extra_vars={'fleet': fleet, 'site_periodic': 7200})
    result = fourth.task('push')
    assert result['removed'] == [ma(gone)]
    assert not (dest / ('%s.xml' % ma(gone))).exists()
    assert (dest / 'unrelated.xml').read_text() == '<keep/>'  # never managed, never pruned

    # prune false keeps profiles of phones no longer listed
    fifth = playbook(play(dest, template, prune=False), extra_vars={'fleet': fleet[:2], 'site_periodic': 7200})
    assert fifth.task('push')['changed'] is False
    assert len(list(dest.glob('02*.xml'))) == 4


def test_the_push_digest_answers_a_rerun_and_a_changed_file_is_noticed(playbook, site):
    dest, template = site
    fleet = phones(3)
    first = playbook(play(dest, template, prune=True), extra_vars={'fleet': fleet})
    assert first.rc == 0, first.stdout[-3000:]
    manifest = json.loads((dest / '.phone_profiles.json').read_text())
    assert len(manifest['push_digest']) == 64
    before = snapshot(dest)

    rerun = playbook(play(dest, template, prune=True), extra_vars={'fleet': fleet})
    result = rerun.task('push')
    assert result['changed'] is False and result['rendered'] == 0 and result['shipped'] == 0
    assert result['counts'] == {'created': 0, 'updated': 0, 'removed': 0, 'unchanged': 3, 'total': 3}
    assert snapshot(dest) == before

    # Someone changes a profile's mode on the host: the digest alone must not vouch for it.
    victim = dest / ('%s.xml' % ma(fleet[1]))
    victim.chmod(0o666)
    repaired = playbook(play(dest, template, prune=True), extra_vars={'fleet': fleet})
    result = repaired.task('push')
    assert result['updated'] == [ma(fleet[1])] and result['changed'] is True
    assert stat.S_IMODE(victim.stat().st_mode) == 0o640
    assert json.loads((dest / '.phone_profiles.json').read_text())['push_digest'] == manifest['push_digest']

    # Check mode of another fleet reports the change and records nothing.
    fleet[0]['resync_periodic'] = 900
    checked = playbook(play(dest, template, prune=True), extra_vars={'fleet': fleet}, check=True)
    assert checked.task('push')['updated'] == [ma(fleet[0])]
    assert json.loads((dest / '.phone_profiles.json').read_text())['push_digest'] == manifest['push_digest']


def test_aes_256_cbc_gzip_decrypts_with_real_openssl(playbook, site, tmp_path):
    dest, template = site
    fleet = phones(3)
    run = playbook(play(dest, template, compress=True, encrypt='aes-256-cbc'), extra_vars={'fleet': fleet})
    assert run.rc == 0, run.stdout[-3000:]
    for phone in fleet:
        path = dest / ('%s.xml' % ma(phone))
        data = path.read_bytes()
        assert data.startswith(b'Salted__')
        decrypted = subprocess.run(['openssl', 'enc', '-d', '-aes-256-cbc', '-md', 'md5', '-k', phone['key'],
                                    '-in', str(path)], capture_output=True, check=True).stdout
        assert decrypted[:2] == b'\x1f\x8b'
        plain = subprocess.run(['gzip', '-d'], input=decrypted, capture_output=True, check=True).stdout
        values = ElementTree.fromstring(plain)
        assert values.tag == 'flat-profile'
        assert values.find('User_ID_1_').text == phone['user']
        wrong = subprocess.run(['openssl', 'enc', '-d', '-aes-256-cbc', '-md', 'md5', '-k', 'not-the-key',
                                '-in', str(path)], capture_output=True, check=False)
        assert wrong.returncode != 0 or wrong.stdout != decrypted
    # Keys never appear in what ansible-playbook printed.
    for phone in fleet:
        assert phone['key'] not in run.stdout and phone['key'] not in run.stderr
    # Encrypted output is idempotent (salt derived from key and content).
    again = playbook(play(dest, template, compress=True, encrypt='aes-256-cbc'), extra_vars={'fleet': fleet})
    assert again.task('push')['changed'] is False
    # A phone's new key re-encrypts only that phone.
    fleet[1]['key'] = 'rotated-key-0123456789abcdef'
    rotated = playbook(play(dest, template, compress=True, encrypt='aes-256-cbc'), extra_vars={'fleet': fleet})
    assert rotated.task('push')['updated'] == [ma(fleet[1])]
    subprocess.run(['openssl', 'enc', '-d', '-aes-256-cbc', '-md', 'md5', '-k', 'rotated-key-0123456789abcdef',
                    '-in', str(dest / ('%s.xml' % ma(fleet[1])))], capture_output=True, check=True)


def test_gzip_only_decompresses_with_real_gzip(playbook, site):
    dest, template = site
    fleet = phones(2)
    assert playbook(play(dest, template, compress=True), extra_vars={'fleet': fleet}).rc == 0
    data = (dest / ('%s.xml' % ma(fleet[0]))).read_bytes()
    plain = subprocess.run(['gzip', '-d'], input=data, capture_output=True, check=True).stdout
    assert ElementTree.fromstring(plain).find('Password_1_').text == fleet[0]['password']


@pytest.mark.parametrize('compress', [False, True])
def test_rfc8188_roundtrip(playbook, site, compress):
    dest, template = site
    fleet = phones(2)
    run = playbook(play(dest, template, compress=compress, encrypt='rfc8188', record_size=64),
                   extra_vars={'fleet': fleet})
    assert run.rc == 0, run.stdout[-3000:]
    for phone in fleet:
        data = (dest / ('%s.xml' % ma(phone))).read_bytes()
        plain, info = decode_profile(data, key=phone['key'])
        assert info['encryption'] == 'rfc8188' and info['record_size'] == 64 and info['compressed'] is compress
        assert ElementTree.fromstring(plain).find('User_ID_1_').text == phone['user']


def test_check_mode_and_diff(playbook, site):
    dest, template = site
    fleet = phones(4)
    check = playbook(play(dest, template), extra_vars={'fleet': fleet}, check=True, diff=True)
    result = check.task('push')
    assert result['changed'] is True and len(result['created']) == 4
    assert os.listdir(dest) == []  # check mode wrote nothing, not even the manifest
    assert playbook(play(dest, template), extra_vars={'fleet': fleet}).rc == 0
    fleet[0]['user'] = '4242'
    fleet[3]['resync_periodic'] = 60
    before = snapshot(dest)
    run = playbook(play(dest, template, diff_count=1), extra_vars={'fleet': fleet}, check=True, diff=True)
    result = run.task('push')
    assert sorted(result['updated']) == sorted([ma(fleet[0]), ma(fleet[3])])
    assert snapshot(dest) == before
    diff = result['diff']['prepared']
    assert 'updated 2:' in diff and ma(fleet[3]) in diff
    assert '-  <User_ID_1_>1000</User_ID_1_>' in diff and '+  <User_ID_1_>4242</User_ID_1_>' in diff
    assert 'Resync_Periodic>60<' not in diff  # only diff_count=1 phone gets a unified diff
    assert '<Password_1_>********</Password_1_>' in diff
    assert 'sip-pass-0' not in run.stdout and 'profile-key-0' not in run.stdout


def test_diff_of_encrypted_profile_shows_plaintext_without_key(playbook, site):
    dest, template = site
    fleet = phones(1)
    fleet[0]['password'] = 'profile-key-0-and-more'  # the key inside other text is masked too
    assert playbook(play(dest, template, encrypt='aes-256-cbc'), extra_vars={'fleet': fleet}).rc == 0
    fleet[0]['user'] = '777'
    run = playbook(play(dest, template, encrypt='aes-256-cbc'), extra_vars={'fleet': fleet}, diff=True)
    diff = run.task('push')['diff']['prepared']
    assert '+  <User_ID_1_>777</User_ID_1_>' in diff and '-  <User_ID_1_>1000</User_ID_1_>' in diff
    assert 'profile-key-0' not in run.stdout


@pytest.mark.parametrize('bad, expected', [
    ({'mac': '02:00:00:00:00:zz'}, r"phone #3 \(mac 02:00:00:00:00:zz\): invalid MAC address"),
    ({'user': 'x'}, 'phone #3 has no mac'),
    ({'mac': '02-00-00-00-00-01'}, 'phone #3 .*duplicate MAC 020000000001, already used by phone #2'),
    ({'mac': '02:00:00:00:00:09', 'user': '<broken'}, r'phone #3 \(mac 02:00:00:00:00:09\): template .* did not give a valid profile'),
    ({'mac': '02:00:00:00:00:09', 'user': '{{ undefined_thing }}'},
     r"phone #3: its entry does not resolve: .*'undefined_thing' is undefined"),
    ({'mac': '02:00:00:00:00:09', 'user': None}, r'phone #3 \(mac 02:00:00:00:00:09\): template .* failed: .*user'),
])
def test_bad_phone_entry_fails_and_publishes_nothing(playbook, site, bad, expected):
    dest, template = site
    fleet = phones(4)
    assert playbook(play(dest, template, prune=True), extra_vars={'fleet': fleet}).rc == 0
    before = snapshot(dest)
    entry = dict({'user': '1', 'password': 'p', 'key': 'k'}, **bad)
    entry = dict((name, value) for name, value in entry.items() if value is not None)
    changed = [dict(phone, resync_periodic=99) for phone in fleet[:2]] + [entry] + fleet[2:]
    run = playbook(play(dest, template, prune=True), extra_vars={'fleet': changed})
    assert run.rc != 0
    result = run.task('push')
    assert result['failed'] is True
    assert re.search(expected, result['msg']), result['msg']
    assert snapshot(dest) == before  # nothing published, nothing pruned


def test_missing_key_and_missing_template(playbook, site, tmp_path):
    dest, template = site
    fleet = phones(2)
    del fleet[1]['key']
    run = playbook(play(dest, template, encrypt='aes-256-cbc'), extra_vars={'fleet': fleet})
    assert 'phone #2 (mac %s) has no key' % fleet[1]['mac'] in run.task('push')['msg']
    run = playbook(play(dest, tmp_path / 'nope.j2'), extra_vars={'fleet': fleet})
    assert 'nope.j2' in run.task('push')['msg']
    assert os.listdir(dest) == []


@pytest.mark.parametrize('filename, message', [
    ('profile.xml', 'must hold exactly one MAC macro'),  # even for one phone: nginx serves each phone its own file
    ('$PN.xml', 'must hold exactly one MAC macro ($MA, $MAU or $MAC) and no other macro'),
    ('cfg/$MA.xml', 'only letters, digits and . _ - ~ are allowed'),
])
def test_file_names_nginx_cannot_serve_are_refused(playbook, site, filename, message):
    dest, template = site
    run = playbook(play(dest, template, filename=filename), extra_vars={'fleet': phones(1)})
    result = run.task('push')
    assert result['failed'] is True and result['msg'].startswith('invalid arguments: filename %r' % filename), result['msg']
    assert message in result['msg']
    assert os.listdir(dest) == []


def test_delimited_macro_in_the_file_name(playbook, site):
    dest, template = site
    fleet = phones(2)
    run = playbook(play(dest, template, filename='spa$(MA)_cfg.xml'), extra_vars={'fleet': fleet})
    assert run.rc == 0, run.stdout[-2000:]
    assert sorted(os.listdir(dest)) == ['.phone_profiles.json'] + ['spa%s_cfg.xml' % ma(phone) for phone in fleet]


def test_per_model_templates_and_filename_macro(playbook, site, tmp_path):
    dest, template = site
    other = tmp_path / 'cp7841.xml.j2'
    other.write_text('<flat-profile><Model>7841 {{ phone_mac }}</Model></flat-profile>\n')
    fleet = phones(3)
    fleet[1]['model'] = 'CP-7841-3PCC'
    run = playbook(play(dest, template, templates={'CP-7841-3PCC': str(other)}, filename='$MAU.cfg'),
                   extra_vars={'fleet': fleet})
    assert run.rc == 0, run.stdout[-2000:]
    assert parse(dest / ('%s.cfg' % ma(fleet[1]).upper())) == {'Model': '7841 %s' % ma(fleet[1])}
    assert 'User_ID_1_' in parse(dest / ('%s.cfg' % ma(fleet[0]).upper()))
    # no default template: a phone whose model has no template fails, naming it
    run = playbook(play(dest, None, templates={'CP-7841-3PCC': str(other)}), extra_vars={'fleet': fleet})
    assert "phone #1 (mac %s): no template for model 'CP-8841-3PCC'" % fleet[0]['mac'] in run.task('push')['msg']


def test_mode_and_group_changes_are_applied(playbook, site):
    dest, template = site
    fleet = phones(2)
    assert playbook(play(dest, template), extra_vars={'fleet': fleet}).rc == 0
    run = playbook(play(dest, template, mode='0644', group='0'), extra_vars={'fleet': fleet})
    result = run.task('push')
    assert result['changed'] is True and sorted(result['updated']) == sorted(ma(p) for p in fleet)
    for phone in fleet:
        assert stat.S_IMODE((dest / ('%s.xml' % ma(phone))).stat().st_mode) == 0o644
    assert stat.S_IMODE((dest / '.phone_profiles.json').stat().st_mode) == 0o644  # the manifest follows
    assert playbook(play(dest, template, mode='0644', group='0'), extra_vars={'fleet': fleet}).task('push')['changed'] is False


def test_hand_edited_profile_is_repaired(playbook, site):
    dest, template = site
    fleet = phones(2)
    assert playbook(play(dest, template), extra_vars={'fleet': fleet}).rc == 0
    path = dest / ('%s.xml' % ma(fleet[0]))
    original = path.read_bytes()
    path.write_bytes(original.replace(b'1000', b'6666'))
    run = playbook(play(dest, template), extra_vars={'fleet': fleet})
    assert run.task('push')['updated'] == [ma(fleet[0])]
    assert path.read_bytes() == original


def test_concurrent_reader_never_sees_a_torn_file(playbook, site):
    """A phone resyncing during a push reads the old or the new profile, never part of one."""
    dest, template = site
    fleet = phones(1500)
    for phone in fleet:
        phone['password'] = 'x' * 3000  # bigger files: a torn write would be easy to catch
    assert playbook(play(dest, template), extra_vars={'fleet': fleet}).rc == 0
    names = ['%s.xml' % ma(phone) for phone in fleet]
    stop = threading.Event()
    reads, errors, seen = [0], [], set()

    def reader():
        rng = random.Random(1)
        while not stop.is_set():
            name = rng.choice(names)
            try:
                with open(dest / name, 'rb') as handle:
                    data = handle.read()
                root = ElementTree.fromstring(data)
                seen.add(root.find('Resync_Periodic').text)
                reads[0] += 1
            except Exception as exc:  # pylint: disable=broad-except
                errors.append('%s: %r' % (name, exc))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for phone in fleet:
            phone['resync_periodic'] = 1234
        run = playbook(play(dest, template), extra_vars={'fleet': fleet})
    finally:
        stop.set()
        thread.join(timeout=30)
    assert run.task('push')['counts']['updated'] == 1500
    assert errors == []
    assert reads[0] > 100
    assert seen <= {'3600', '1234'}
    assert not [name for name in os.listdir(dest) if name.endswith('.tmp')]  # no temporary files left


def test_role_default_template_and_prune(playbook, tmp_path):
    dest = tmp_path / 'srv'
    fleet = [{'mac': '00:56:2b:04:36:15', 'model': 'CP-8841-3PCC',
              'lines': [{'user_id': '1001', 'password': 'sip-secret', 'display_name': 'Front & Back', 'proxy': 'sip.test'}],
              'key': 'phone-key-1'}]
    text = """
- hosts: localhost
  gather_facts: false
  vars:
    mpp_server_fqdn: prov.mpp.test
    mpp_server_port: 8443
    mpp_profiles_dest: %s
    mpp_profiles_group: "0"
    mpp_profiles_create_dest: true
    mpp_profiles_weak_keys: warn
  roles:
    - role: phoneprov.mpp.phone_profiles
""" % dest
    run = playbook(text, extra_vars={'mpp_phones': fleet, 'mpp_profiles_encrypt': 'aes-256-cbc'})
    assert run.rc == 0, run.stdout[-3000:]
    data = (dest / '00562b043615.xml').read_bytes()
    plain = subprocess.run(['openssl', 'enc', '-d', '-aes-256-cbc', '-md', 'md5', '-k', 'phone-key-1'],
                           input=data, capture_output=True, check=True).stdout
    values = dict((child.tag, child.text or '') for child in ElementTree.fromstring(plain))
    assert values['Profile_Rule'] == '[--key $B] https://prov.mpp.test:8443/cfg/$MA.xml'
    assert values['GPP_B'] == 'phone-key-1'
    assert values['User_ID_1_'] == '1001' and values['Password_1_'] == 'sip-secret'
    assert values['Display_Name_1_'] == 'Front & Back'
    assert values['Resync_Periodic'] == '3600' and values['Resync_Error_Retry_Delay'] == '3600'
    assert values['Resync_Random_Delay'] == '2' and values['Resync_On_Reset'] == 'Yes'
    again = playbook(text, extra_vars={'mpp_phones': fleet, 'mpp_profiles_encrypt': 'aes-256-cbc'})
    assert again.changed == 0
    assert again.task('Publish one profile per phone')['rendered'] == 0  # the default template is cacheable
    gone = playbook(text, extra_vars={'mpp_phones': [], 'mpp_profiles_encrypt': 'aes-256-cbc'})
    assert gone.task('Publish one profile per phone').get('removed') == ['00562b043615'], gone.task('Publish one profile per phone')
    assert not (dest / '00562b043615.xml').exists()


def test_render_workers_agree_and_name_a_bad_phone_in_a_later_part(playbook, tmp_path, site):
    _dest, template = site
    fleet = phones(1200)
    outputs = {}
    for workers in (1, 3):
        dest = tmp_path / ('w%d' % workers)
        dest.mkdir()
        run = playbook(play(dest, template, render_workers=workers, compress=True, encrypt='aes-256-cbc'),
                       extra_vars={'fleet': fleet})
        assert run.task('push')['counts']['created'] == 1200
        outputs[workers] = dict((name, value[0]) for name, value in snapshot(dest).items() if name.endswith('.xml'))
    assert outputs[1] == outputs[3] and len(outputs[1]) == 1200
    dest = tmp_path / 'w3'
    before = snapshot(dest)
    broken = [dict(phone, resync_periodic=5) for phone in fleet]
    broken[1100] = dict(broken[1100], user='<oops')
    run = playbook(play(dest, template, render_workers=3, compress=True, encrypt='aes-256-cbc'),
                   extra_vars={'fleet': broken})
    assert 'phone #1101 (mac %s): template' % fleet[1100]['mac'] in run.task('push')['msg']
    assert snapshot(dest) == before


def test_variable_built_from_phone_is_resolved_per_phone(playbook, tmp_path):
    """Shared variables are resolved once; one whose value uses `phone` must stay per phone."""
    dest = tmp_path / 'docroot'
    dest.mkdir()
    template = tmp_path / 'note.xml.j2'
    template.write_text('<flat-profile><Text_Note>{{ site_note }}</Text_Note>'
                        '<Server>{{ site_fqdn }}</Server></flat-profile>\n')
    fleet = phones(3)
    first = playbook(play(dest, template), extra_vars={'fleet': fleet})
    assert first.rc == 0, first.stdout[-2000:]
    for phone in fleet:
        assert parse(dest / ('%s.xml' % ma(phone))) == {'Text_Note': 'note-' + phone['user'], 'Server': 'prov.example.test'}
    again = playbook(play(dest, template), extra_vars={'fleet': fleet})
    result = again.task('push')
    assert result['changed'] is False and result['rendered'] == 3  # no render cache with per-phone variables


DIRECT_TEMPLATE = """{# filters of Ansible, of this collection and of Jinja2, as a custom template may use them #}
<flat-profile>
  <Station_Name>{{ phone.mac | phoneprov.mpp.mac_colon | upper }}</Station_Name>
  <Text_Logo>{{ phone.logo | default(site_fqdn) | regex_replace('[.]', '-') | e }}</Text_Logo>
  <Users>{{ [phone.user, phone_mac] | map('upper') | join(';') }}</Users>
  <Enable>{{ 'Yes' if (phone.enabled | default('yes')) | bool else 'No' }}</Enable>
  <Note>{{ phone.note }}</Note>
{% for name, value in (phone.parameters | default({})).items() %}
  <{{ name }}>{{ (('Yes' if value else 'No') if value is boolean else value) | e }}</{{ name }}>
{% endfor %}
  <Json>{{ {'u': phone.user} | to_json | e }}</Json>
</flat-profile>

"""


def test_direct_render_gives_the_templars_bytes_and_the_templars_errors(playbook, tmp_path):
    template = tmp_path / 'direct.xml.j2'
    template.write_text(DIRECT_TEMPLATE)
    fleet = phones(1200)
    for number, phone in enumerate(fleet):
        phone.update(note=None if number % 3 == 0 else 'n-%d' % number, enabled='no' if number % 5 == 0 else True,
                     parameters={'Screen_Saver_Enable': number % 2 == 0, 'Count': number, 'Ratio': 0.5, 'Empty': None})
        if number % 7 == 0:
            phone['logo'] = 'Ä.B&C'
    outputs = {}
    for direct in (True, False):
        dest = tmp_path / ('direct-%s' % direct)
        dest.mkdir()
        run = playbook(play(dest, template, direct_render=direct, render_workers=2), extra_vars={'fleet': fleet})
        assert run.task("push").get("counts", {}).get("created") == 1200, run.task("push").get("msg")
        outputs[direct] = dict((name, (dest / name).read_bytes()) for name in os.listdir(dest) if name.endswith('.xml'))
    assert len(outputs[True]) == 1200 and outputs[True] == outputs[False]
    sample = parse(tmp_path / 'direct-True' / ('%s.xml' % ma(fleet[0])))
    assert sample['Note'] == '' and sample['Enable'] == 'No' and sample['Screen_Saver_Enable'] == 'Yes'
    assert sample['Users'] == '1000;020000000000' and sample['Text_Logo'] == 'Ä-B&C'
    # A phone the template cannot render fails with Ansible's own message either way.
    broken = [dict(phone) for phone in fleet]
    del broken[700]['user']
    messages = {}
    for direct in (True, False):
        dest = tmp_path / ('direct-%s' % direct)
        before = snapshot(dest)
        run = playbook(play(dest, template, direct_render=direct, render_workers=2), extra_vars={'fleet': broken})
        messages[direct] = run.task('push')['msg']
        assert snapshot(dest) == before
    assert messages[True] == messages[False]
    assert messages[True].startswith('phone #701 (mac %s): template' % fleet[700]['mac']) and 'user' in messages[True]


def test_template_plain_jinja2_renders_differently_still_gets_the_templars_bytes(playbook, tmp_path):
    # `dict.items()` is a list in Ansible's templates and a dict_items view in plain Jinja2: the
    # first phone's cross-check sees the difference and the template goes back to the templar.
    template = tmp_path / 'differs.xml.j2'
    template.write_text('<flat-profile><Kind>{{ {"a": 1}.items() | type_debug }}</Kind>'
                        '<User_ID_1_>{{ phone.user }}</User_ID_1_></flat-profile>\n')
    fleet = phones(600)
    outputs = {}
    for direct in (True, False):
        dest = tmp_path / ('differs-%s' % direct)
        dest.mkdir()
        run = playbook(play(dest, template, direct_render=direct), extra_vars={'fleet': fleet})
        assert run.task('push').get('counts', {}).get('created') == 600, run.task('push').get('msg')
        outputs[direct] = dict((name, (dest / name).read_bytes()) for name in os.listdir(dest) if name.endswith('.xml'))
    assert outputs[True] == outputs[False]
    assert parse(tmp_path / 'differs-True' / ('%s.xml' % ma(fleet[599]))) == {'Kind': 'list', 'User_ID_1_': '1599'}


def tree(root):
    """path -> (type, content or link target) of everything under root."""
    out = {}
    for folder, dirs, files in os.walk(str(root)):
        for name in dirs + files:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                out[path] = ('link', os.readlink(path))
            elif os.path.isdir(path):
                out[path] = ('dir', None)
            else:
                with open(path, 'rb') as handle:
                    out[path] = ('file', handle.read())
    return out


def test_prune_refuses_tampered_manifest_entries(playbook, site, tmp_path):
    """A manifest entry naming a file outside dest, a symlink, a directory or an edited file is not
    deleted: the push warns naming it, prunes the rest and forgets the entry."""
    dest, template = site
    fleet = phones(6)
    assert playbook(play(dest, template, prune=True), extra_vars={'fleet': fleet}).rc == 0
    (tmp_path / 'outside').mkdir()
    outside = tmp_path / 'outside' / 'victim'
    outside.write_text('outside dest')
    elsewhere = tmp_path.parent / ('mpp-prune-%s' % tmp_path.name)
    elsewhere.mkdir()
    (elsewhere / 'victim').write_text('elsewhere')
    gone, linked, folder, edited = fleet[2:]
    link_name, folder_name, edited_name = ('%s.xml' % ma(phone) for phone in (linked, folder, edited))
    (dest / link_name).unlink()
    (dest / link_name).symlink_to(outside)
    (dest / folder_name).unlink()
    (dest / folder_name).mkdir()
    (dest / folder_name / 'inside').write_text('inside a directory')
    (dest / edited_name).write_text('<flat-profile>edited by hand</flat-profile>\n')
    manifest_path = dest / '.phone_profiles.json'
    manifest = json.loads(manifest_path.read_text())
    outside_sha = hashlib.sha256(b'outside dest').hexdigest()
    for name, text in (('../outside/victim', b'outside dest'), (str(elsewhere / 'victim'), b'elsewhere'),
                       ('.phone_profiles.json', b''), ('.', b''), ('', b'')):
        manifest['files'][name] = {'mac': ma(gone), 'sha256': hashlib.sha256(text).hexdigest(), 'stat': [0, 0, 0], 'render': None}
    manifest['files'][link_name]['sha256'] = outside_sha
    manifest_path.write_text(json.dumps(manifest))
    before_outside = (tree(outside.parent), tree(elsewhere))

    run = playbook(play(dest, template, prune=True), extra_vars={'fleet': fleet[:2]})
    assert run.rc == 0, run.stdout[-3000:]
    result = run.task('push')
    assert result['removed'] == [ma(gone)]  # the one genuine entry is still pruned
    assert not (dest / ('%s.xml' % ma(gone))).exists()
    assert (tree(outside.parent), tree(elsewhere)) == before_outside  # nothing outside dest touched
    assert outside.read_text() == 'outside dest' and (elsewhere / 'victim').read_text() == 'elsewhere'
    assert os.readlink(str(dest / link_name)) == str(outside)
    assert (dest / folder_name / 'inside').read_text() == 'inside a directory'
    assert (dest / edited_name).read_text() == '<flat-profile>edited by hand</flat-profile>\n'
    not_pruned = dict((entry['file'], entry['reason']) for entry in result['not_pruned'])
    assert sorted(not_pruned) == sorted(['', '.', '.phone_profiles.json', '../outside/victim', str(elsewhere / 'victim'),
                                         link_name, folder_name, edited_name])
    assert 'not a profile file name' in not_pruned['../outside/victim']
    assert 'the manifest itself' in not_pruned['.phone_profiles.json']
    assert 'symbolic link' in not_pruned[link_name]
    assert 'directory' in not_pruned[folder_name]
    assert 'changed' in not_pruned[edited_name]
    warnings = '\n'.join(result.get('warnings', []))
    for name in ('../outside/victim', str(elsewhere / 'victim'), link_name, folder_name, edited_name):
        assert repr(name) in warnings
    assert sorted(json.loads(manifest_path.read_text())['files']) == sorted('%s.xml' % ma(p) for p in fleet[:2])

    again = playbook(play(dest, template, prune=True), extra_vars={'fleet': fleet[:2]})
    result = again.task('push')
    assert result['changed'] is False and not result.get('not_pruned') and not result.get('warnings')


def test_hosts_of_one_run_render_each_profile_once(playbook, tmp_path, site):
    _dest, template = site
    fleet = phones(60)
    hosts = ['localhost', 'srv1', 'srv2', 'srv3']
    inventory = tmp_path / 'servers.ini'
    inventory.write_text(''.join('%s ansible_connection=local ansible_python_interpreter=%s push_dest=%s\n'
                                 % (host, sys.executable, tmp_path / ('dest-' + host)) for host in hosts))
    for host in hosts:
        (tmp_path / ('dest-' + host)).mkdir()
    text = play('{{ push_dest }}', template, encrypt='aes-256-cbc').replace('hosts: localhost', 'hosts: all')
    run = playbook(text, extra_vars={'fleet': fleet}, args=('-i', str(inventory), '--forks', '4'))
    results = dict((name, result) for play_data in run.data['plays'] for task in play_data['tasks']
                   for name, result in task['hosts'].items())
    assert sorted(results) == hosts
    assert all(result['counts']['created'] == 60 for result in results.values())
    # each profile rendered by one host of the run, read by the others from the run's share
    assert sum(result['rendered'] for result in results.values()) == 60
    trees = [dict((name, value[0]) for name, value in snapshot(tmp_path / ('dest-' + host)).items() if name.endswith('.xml'))
             for host in hosts]
    assert len(trees[0]) == 60 and all(tree == trees[0] for tree in trees)
    # one phone changed: rendered once more, in one host only
    fleet[7] = dict(fleet[7], user='4242')
    run = playbook(text, extra_vars={'fleet': fleet}, args=('-i', str(inventory), '--forks', '4'))
    results = dict((name, result) for play_data in run.data['plays'] for task in play_data['tasks']
                   for name, result in task['hosts'].items())
    assert all(result['updated'] == [ma(fleet[7])] for result in results.values())
    assert sum(result['rendered'] for result in results.values()) == 1


def test_buckets_send_only_what_changed_and_still_repair_and_prune(playbook, site, tmp_path):
    """300 phones fall in 4 buckets (module_utils/profile_buckets.py). A run that changes one phone,
    finds another's profile edited on the host and prunes a third asks for the hashes of those
    buckets only, renders only those phones, and leaves exactly the tree a fresh push makes."""
    from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_buckets import bucket_count, bucket_of
    dest, template = site
    fleet = phones(300)
    count = bucket_count(len(fleet))
    assert count == 4
    first = playbook(play(dest, template, prune=True), extra_vars={'fleet': fleet})
    assert first.rc == 0, first.stdout[-3000:]
    # three phones in three different buckets: changed, hand-edited, removed
    by_bucket = {}
    for phone in fleet:
        by_bucket.setdefault(bucket_of('%s.xml' % ma(phone), count), phone)
    changed, edited, gone = list(by_bucket.values())[:3]
    changed['password'] = 'rotated'
    (dest / ('%s.xml' % ma(edited))).write_text('<flat-profile><User_ID_1_>mallory</User_ID_1_></flat-profile>\n')
    fleet.remove(gone)
    second = playbook(play(dest, template, prune=True), extra_vars={'fleet': fleet}, args=('-vv',))
    assert second.rc == 0, second.stdout[-3000:]
    result = second.task('push')
    assert sorted(result['updated']) == sorted([ma(changed), ma(edited)]) and result['removed'] == [ma(gone)]
    assert result['counts']['unchanged'] == 297 and result['counts']['total'] == 299
    assert result['rendered'] == 2 and result['shipped'] == 2
    marks = re.search(r'host inventory: 300 managed profiles, (\d+) hashes sent, (\d+) of 4 buckets current', second.stdout)
    assert marks, second.stdout[-3000:]
    assert int(marks.group(2)) == 1, 'the three touched buckets are dirty, the fourth current'
    touched = dict((bucket_of('%s.xml' % ma(phone), count), 0) for phone in (changed, edited, gone))
    for phone in phones(300):
        if bucket_of('%s.xml' % ma(phone), count) in touched:
            touched[bucket_of('%s.xml' % ma(phone), count)] += 1
    # the edited file does not verify, so its hash is not sent: every other file of the touched buckets is
    assert int(marks.group(1)) == sum(touched.values()) - 1
    fresh = tmp_path / 'fresh'
    fresh.mkdir()
    again = playbook(play(fresh, template, prune=True), extra_vars={'fleet': fleet})
    assert again.rc == 0, again.stdout[-3000:]
    ours, theirs = snapshot(dest), snapshot(fresh)
    ours.pop('.phone_profiles.json'), theirs.pop('.phone_profiles.json')
    assert dict((name, item[0]) for name, item in ours.items()) == dict((name, item[0]) for name, item in theirs.items())
