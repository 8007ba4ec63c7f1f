# -*- coding: utf-8 -*-
"""The filters through a real ansible-playbook run."""

from __future__ import annotations

from xml.etree import ElementTree

PLAY = r'''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: filters
      ansible.builtin.set_fact:
        fqdns: "{{ cns | map('phoneprov.mpp.cn_fqdn') | list }}"
        valid: "{{ (cns + bad_cns) | map('phoneprov.mpp.cn_valid') | list }}"
        macs: "{{ spellings | map('phoneprov.mpp.mac') | unique | list }}"
        colon: "{{ '000E08ABCDEF' | phoneprov.mpp.mac_colon }}"
        behaviors: "{{ [200, 301, 401, 404, 503] | map('phoneprov.mpp.http_behavior') | list }}"
        lenient_404: "{{ 404 | phoneprov.mpp.http_behavior(resync_fails_on_fnf=false) }}"
        phone: "{{ 'OU=CP-8841-3PCC, L=88012BA01234, S=000e08abcdef' | phoneprov.mpp.client_subject }}"
        generic: "{{ 'OU=cisco.com, L=ciscogeneric, S=ciscogeneric' | phoneprov.mpp.client_subject }}"
        profile: "{{ {'Resync_On_Reset': true, 'Station_Name': {'value': 'A&B <1>', 'ua': 'na'}} | phoneprov.mpp.flat_profile }}"
  vars:
    cns: [sprov.callme.com, "pv.telco.net/mailto:admin@telco.net", "prof.voice.com/info@voice.com"]
    bad_cns: ["192.0.2.1", "*.x.net", "x_y.net", "prov", ""]
    spellings: ["00:0E:08:AB:CD:EF", "00-0e-08-ab-cd-ef", "000e.08ab.cdef", "000E08ABCDEF"]
'''


def test_filters_in_a_playbook(playbook):
    result = playbook(PLAY)
    assert result.rc == 0, result.stderr
    facts = result.task('filters')['ansible_facts']
    assert facts['fqdns'] == ['sprov.callme.com', 'pv.telco.net', 'prof.voice.com']
    assert facts['valid'] == [True] * 3 + [False] * 5
    assert facts['macs'] == ['000e08abcdef']
    assert facts['colon'] == '00:0e:08:ab:cd:ef'
    assert facts['behaviors'] == ['A', 'redirect', 'auth', 'B', 'C']
    assert facts['lenient_404'] == 'A'
    assert facts['phone'] == {'model': 'CP-8841-3PCC', 'serial': '88012BA01234', 'mac': '000e08abcdef', 'generic': False}
    assert facts['generic']['generic'] is True and facts['generic']['mac'] is None
    root = ElementTree.fromstring(facts['profile'])
    assert root.find('Resync_On_Reset').text == 'Yes'
    assert root.find('Station_Name').text == 'A&B <1>' and root.find('Station_Name').get('ua') == 'na'


BAD = r'''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: bad
      ansible.builtin.debug:
        msg: "{{ value | phoneprov.mpp.%s }}"
'''


def test_filter_errors_name_the_problem(playbook):
    for filter_name, value, words in [
        ('mac', 'zz:zz', 'invalid MAC address'),
        ('cn_fqdn', '*.x.net', 'wildcard'),
        ('flat_profile', {'Dial Plan[1]': 'x'}, 'Dial_Plan_1_'),
        ('client_subject', 'OU=x, L=y', 'no ST'),
        ('http_behavior', 'abc', 'HTTP status'),
    ]:
        result = playbook(BAD % filter_name, extra_vars={'value': value})
        assert result.rc != 0
        assert words in result.task('bad')['msg'], (filter_name, result.task('bad')['msg'])


RULES = r'''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: rule filters
      ansible.builtin.set_fact:
        mac_map: "{{ 'client_mac' | phoneprov.mpp.nginx_map }}"
        generic_map: "{{ 'client_generic' | phoneprov.mpp.nginx_map }}"
        own_map: "{{ 'own_profile' | phoneprov.mpp.nginx_map }}"
        location: "{{ 'cfg-$MAU.cfg' | phoneprov.mpp.nginx_profile_location('/cfg/') }}"
        rule_names: "{{ ['$MA.xml', '$MAU_x.cfg'] | map('phoneprov.mpp.profile_rule_name') | list }}"
        parts: "{{ [{'A': 1, 'B': 'x'}, {}, {'B': true, 'C': none}] | phoneprov.mpp.flat_profile }}"
'''


def test_rule_filters_in_a_playbook(playbook):
    result = playbook(RULES)
    assert result.rc == 0, result.stderr
    facts = result.task('rule filters')['ansible_facts']
    assert len(facts['mac_map']) == 4 and facts['mac_map'][0][1] == '$mpp_mac0_1'
    assert all(regex.startswith('"~^') and regex.endswith('"') for regex, dummy in facts['mac_map'])
    assert facts['generic_map'][0][1] == 'true' and 'ciscogeneric' in facts['generic_map'][0][0]
    assert [value for dummy, value in facts['own_map']] == ['1', '1']
    assert facts['location']['try_files'] == '/$mpp_req_file'
    assert facts['location']['regex'] == '"^/cfg/(?<mpp_req_file>cfg\\\\-(?<mpp_req_mac>[0-9A-Fa-f]{12})\\\\.cfg)$"'
    assert facts['rule_names'] == ['$MA.xml', '$(MAU)_x.cfg']
    assert facts['parts'] == '<flat-profile>\n  <A>1</A>\n  <B>Yes</B>\n  <C/>\n</flat-profile>\n'


def test_rule_filter_errors_name_the_problem(playbook):
    for filter_name, value, words in [
        ('profile_rule_name', 'profile.xml', 'exactly one MAC macro'),
        ('nginx_profile_location', '$MA/x.xml', 'only letters, digits'),
        ('nginx_map', 'no_such_rule', 'unknown rule'),
        ('flat_profile', [{'A': 1}, 'x'], 'list of parameters holds dicts'),
    ]:
        result = playbook(BAD % filter_name, extra_vars={'value': value})
        assert result.rc != 0
        assert words in result.task('bad')['msg'], (filter_name, result.task('bad')['msg'])
