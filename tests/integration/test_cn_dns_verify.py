# -*- coding: utf-8 -*-
"""phoneprov.mpp.cn_dns_verify through ansible-playbook, against real dnsmasq, openssl and s_server."""
from __future__ import annotations

import hashlib
import os

import pytest

from cndns_helpers import DnsLab, SilentDns, TlsServer, self_signed, verify_defaults
from mpp_harness import playbook_text

RECORDS = {
    'prov.mpp.test': ['127.0.0.1'],
    'farm.mpp.test': ['192.0.2.10', '192.0.2.11', '2001:db8::10'],
}


@pytest.fixture
def lab(tmp_path):
    server = DnsLab(tmp_path / 'dns', RECORDS, empty_names=('txtonly.mpp.test',))
    yield server
    server.stop()


def certs(tmp_path, *cns):
    return dict((cn, str(self_signed(tmp_path / 'pki', cn, name='c%d' % index)[0])) for index, cn in enumerate(cns))


def snapshot(path):
    stat = os.stat(path)
    return hashlib.sha256(open(path, 'rb').read()).hexdigest(), stat.st_mtime_ns, stat.st_mode


def test_outcomes_each_by_name(tmp_path, lab, playbook):
    paths = certs(tmp_path, 'prov.mpp.test/mailto:admin@mpp.test', 'farm.mpp.test', 'nothere.mpp.test',
                  'txtonly.mpp.test', 'broken.sf')
    silent = SilentDns()
    before = dict((cn, snapshot(path)) for cn, path in paths.items())
    play = playbook_text('''
    - name: match
      phoneprov.mpp.cn_dns_verify:
        certificate_path: "%(prov)s"
        expected_addresses: ["127.0.0.1"]
    - name: scale-out, one server missing
      phoneprov.mpp.cn_dns_verify:
        certificate_path: "%(farm)s"
        expected_addresses: ["192.0.2.10", "192.0.2.11", "192.0.2.12", "2001:DB8:0:0::10"]
      ignore_errors: true
    - name: scale-out, report only
      phoneprov.mpp.cn_dns_verify:
        certificate_path: "%(farm)s"
        expected_addresses: ["192.0.2.10", "192.0.2.12"]
        fail_on_mismatch: false
    - name: nxdomain
      phoneprov.mpp.cn_dns_verify:
        certificate_path: "%(nx)s"
        expected_addresses: ["127.0.0.1"]
      ignore_errors: true
    - name: empty answer
      phoneprov.mpp.cn_dns_verify:
        certificate_path: "%(empty)s"
        expected_addresses: ["127.0.0.1"]
      ignore_errors: true
    - name: servfail
      phoneprov.mpp.cn_dns_verify:
        certificate_path: "%(sf)s"
        expected_addresses: ["127.0.0.1"]
      ignore_errors: true
    - name: timeout
      phoneprov.mpp.cn_dns_verify:
        certificate_path: "%(prov)s"
        expected_addresses: ["127.0.0.1"]
        dns_port: %(silent)d
        timeout: 1
      ignore_errors: true
''' % dict(silent=silent.port, prov=paths['prov.mpp.test/mailto:admin@mpp.test'],
           farm=paths['farm.mpp.test'], nx=paths['nothere.mpp.test'], empty=paths['txtonly.mpp.test'],
           sf=paths['broken.sf']), module_defaults=verify_defaults(lab, timeout=2))
    try:
        result = playbook(play)
    finally:
        silent.close()
    assert result.changed == 0

    match = result.task('match')
    assert not match.get('failed')
    assert match['ok'] is True
    assert match['common_name'] == 'prov.mpp.test/mailto:admin@mpp.test'
    assert match['fqdn'] == 'prov.mpp.test'
    assert match['resolved_addresses'] == ['127.0.0.1']
    assert match['missing_addresses'] == []
    assert match['dns_error'] is None

    scale = result.task('scale-out, one server missing')
    assert scale['failed'] is True
    assert scale['ok'] is False
    assert scale['missing_addresses'] == ['192.0.2.12']
    assert scale['resolved_addresses'] == ['192.0.2.10', '192.0.2.11', '2001:db8::10']
    assert scale['expected_addresses'] == ['192.0.2.10', '192.0.2.11', '192.0.2.12', '2001:db8::10']
    assert 'lacks 192.0.2.12' in scale['msg']
    assert scale['fqdn'] == 'farm.mpp.test'

    report = result.task('scale-out, report only')
    assert not report.get('failed')
    assert report['ok'] is False
    assert report['missing_addresses'] == ['192.0.2.12']
    assert any('lacks 192.0.2.12' in warning for warning in report.get('warnings', []))

    for name, kind, words in [('nxdomain', 'NXDOMAIN', 'nothere.mpp.test does not exist'),
                              ('empty answer', 'NOANSWER', 'no A or AAAA record'),
                              ('servfail', 'SERVFAIL', 'SERVFAIL'),
                              ('timeout', 'TIMEOUT', 'within 1.0 seconds')]:
        task = result.task(name)
        assert task['failed'] is True, name
        assert task['dns_error'] == kind, (name, task)
        assert kind in task['msg'] and words in task['msg'], (name, task['msg'])
        assert task['ok'] is False
        assert task['resolved_addresses'] == []
        assert task['missing_addresses'] == ['127.0.0.1']
        assert task['fqdn']
    assert 'validation broken.sf is BOGUS' in lab.log()

    # read-only: no certificate touched
    assert before == dict((cn, snapshot(path)) for cn, path in paths.items())


def test_check_mode_same_answer_and_nothing_written(tmp_path, lab, playbook):
    paths = certs(tmp_path, 'farm.mpp.test')
    before = snapshot(paths['farm.mpp.test'])
    listing = sorted(os.listdir(tmp_path / 'pki'))
    play = playbook_text('''
    - name: verify
      phoneprov.mpp.cn_dns_verify:
        certificate_path: "%s"
        expected_addresses: ["192.0.2.11", "2001:db8::10"]
        nameservers: ["%s"]
        dns_port: %d
''' % (paths['farm.mpp.test'], lab.address, lab.port))
    normal = playbook(play).task('verify')
    checked = playbook(play, check=True, diff=True)
    assert checked.rc == 0 and checked.changed == 0
    task = checked.task('verify')
    for key in ('ok', 'fqdn', 'resolved_addresses', 'expected_addresses', 'missing_addresses'):
        assert task[key] == normal[key]
    assert task['ok'] is True
    assert snapshot(paths['farm.mpp.test']) == before
    assert sorted(os.listdir(tmp_path / 'pki')) == listing


def test_live_fetch_with_sni_and_peer_address(tmp_path, lab, playbook):
    default_cert, default_key = self_signed(tmp_path / 'pki', 'default.mpp.test', name='default')
    sni_cert, sni_key = self_signed(tmp_path / 'pki', 'prov.mpp.test/info@mpp.test', name='sni')
    server = TlsServer(default_cert, default_key,
                       extra=['-servername', 'prov.mpp.test', '-cert2', str(sni_cert), '-key2', str(sni_key)])
    try:
        play = playbook_text('''
    - name: live with sni
      phoneprov.mpp.cn_dns_verify:
        host: 127.0.0.1
        port: %(port)d
        fqdn: prov.mpp.test
    - name: live without sni
      phoneprov.mpp.cn_dns_verify:
        host: 127.0.0.1
        port: %(port)d
      ignore_errors: true
    - name: live, expected given
      phoneprov.mpp.cn_dns_verify:
        host: 127.0.0.1
        port: %(port)d
        fqdn: prov.mpp.test
        expected_addresses: ["127.0.0.1", "127.0.0.2"]
      ignore_errors: true
''' % dict(port=server.port), module_defaults=verify_defaults(lab))
        result = playbook(play)
    finally:
        server.stop()
    sni = result.task('live with sni')
    assert not sni.get('failed'), sni
    assert sni['common_name'] == 'prov.mpp.test/info@mpp.test'
    assert sni['peer_address'] == '127.0.0.1'
    assert sni['expected_addresses'] == ['127.0.0.1']
    assert sni['ok'] is True

    plain = result.task('live without sni')
    assert plain['common_name'] == 'default.mpp.test'
    assert plain['failed'] is True and plain['dns_error'] == 'NXDOMAIN'

    given = result.task('live, expected given')
    assert given['failed'] is True
    assert given['missing_addresses'] == ['127.0.0.2']


def test_refusals_name_the_problem(tmp_path, lab, playbook):
    paths = certs(tmp_path, 'prov.mpp.test', '192.0.2.1')
    garbage = tmp_path / 'garbage.crt'
    garbage.write_text('not a certificate\n')
    closed = TlsServer(*self_signed(tmp_path / 'pki', 'x.mpp.test', name='closed'))
    closed.stop()
    play = playbook_text('''
    - name: ip as cn
      phoneprov.mpp.cn_dns_verify:
        certificate_path: "%(ipcn)s"
      ignore_errors: true
    - name: garbage
      phoneprov.mpp.cn_dns_verify:
        certificate_path: "%(garbage)s"
      ignore_errors: true
    - name: missing file
      phoneprov.mpp.cn_dns_verify:
        certificate_path: "%(garbage)s.nope"
      ignore_errors: true
    - name: bad expected
      phoneprov.mpp.cn_dns_verify:
        certificate_path: "%(prov)s"
        expected_addresses: [prov.mpp.test]
      ignore_errors: true
    - name: other fqdn
      phoneprov.mpp.cn_dns_verify:
        certificate_path: "%(prov)s"
        fqdn: other.mpp.test
      ignore_errors: true
    - name: content
      phoneprov.mpp.cn_dns_verify:
        content: "{{ lookup('ansible.builtin.file', '%(prov)s') }}"
        expected_addresses: ["::ffff:127.0.0.1"]
    - name: unreachable
      phoneprov.mpp.cn_dns_verify:
        host: 127.0.0.1
        port: %(closed)d
        timeout: 2
      ignore_errors: true
    - name: two sources
      phoneprov.mpp.cn_dns_verify:
        certificate_path: "%(prov)s"
        host: 127.0.0.1
      ignore_errors: true
''' % dict(ipcn=paths['192.0.2.1'], garbage=garbage, prov=paths['prov.mpp.test'],
           closed=closed.port), module_defaults=verify_defaults(lab))
    result = playbook(play)
    assert result.changed == 0
    assert 'breaks the CN rule' in result.task('ip as cn')['msg']
    assert 'all-numeric' in result.task('ip as cn')['msg']
    assert result.task('ip as cn')['common_name'] == '192.0.2.1'
    assert 'neither a PEM nor a DER' in result.task('garbage')['msg']
    assert 'cannot read certificate_path' in result.task('missing file')['msg']
    assert "expected_addresses: 'prov.mpp.test' is not an IPv4 or IPv6 address" in result.task('bad expected')['msg']
    other = result.task('other fqdn')
    assert other['failed'] is True and other['ok'] is False
    assert 'not the expected fqdn other.mpp.test' in other['msg']
    content = result.task('content')
    assert not content.get('failed') and content['ok'] is True
    assert content['expected_addresses'] == ['127.0.0.1']
    assert 'cannot connect to 127.0.0.1 port %d' % closed.port in result.task('unreachable')['msg']
    assert 'mutually exclusive' in result.task('two sources')['msg']
    for name in ('ip as cn', 'garbage', 'missing file', 'bad expected', 'unreachable', 'two sources'):
        assert result.task(name)['failed'] is True, name


def test_live_fetch_from_tls12_server_demanding_a_client_certificate(tmp_path, lab, playbook):
    server_cert, server_key = self_signed(tmp_path / 'pki', 'prov.mpp.test', name='server')
    client_cert, client_key = self_signed(tmp_path / 'pki', 'phone', name='client')
    server = TlsServer(server_cert, server_key, extra=['-tls1_2', '-Verify', '1', '-CAfile', str(client_cert)])
    try:
        play = playbook_text('''
    - name: without client certificate
      phoneprov.mpp.cn_dns_verify: {}
      ignore_errors: true
    - name: with client certificate
      phoneprov.mpp.cn_dns_verify:
        client_cert: "%(cert)s"
        client_key: "%(key)s"
''' % dict(cert=client_cert, key=client_key), module_defaults=verify_defaults(lab, host='127.0.0.1', port=server.port, fqdn='prov.mpp.test'))
        result = playbook(play)
    finally:
        server.stop()
    refused = result.task('without client certificate')
    assert refused['failed'] is True
    assert 'TLS handshake with 127.0.0.1 port %d failed' % server.port in refused['msg']
    accepted = result.task('with client certificate')
    assert not accepted.get('failed'), accepted
    assert accepted['ok'] is True and accepted['common_name'] == 'prov.mpp.test'
