# -*- coding: utf-8 -*-
"""phoneprov.mpp.lab_ca: two roots, server CSR signing, phone client certificates; openssl judges."""

from __future__ import annotations

import shutil
import subprocess
import time

from mpp_harness import BIN, NGINX, REPO, free_port, playbook_text, stop_process
from pki_helpers import cert_pubkey_sha256, ext_text, mode_of, ossl, pubkey_sha256, refusal, snapshot, subject_rfc2253, task


def verify(ca, cert, check=False):
    result = ossl('verify', '-CAfile', ca, cert, check=check)
    return result.stdout + result.stderr


def test_creates_two_roots_once_check_mode_first(playbook, tmp_path):
    ca = tmp_path / 'ca'
    checked = playbook(playbook_text([task('ca', 'lab_ca', {'path': str(ca)})]), check=True)
    assert checked.task('ca')['changed'] is True
    assert not ca.exists()

    run = playbook(playbook_text([task('ca', 'lab_ca', {'path': str(ca)})]))
    result = run.task('ca')
    assert result['changed'] is True and result['created_ca'] == ['server', 'client']
    assert result['server_ca_path'] == str(ca / 'server-ca.crt')
    assert result['client_ca_path'] == str(ca / 'client-ca.crt')
    for name in ('server-ca', 'client-ca'):
        assert mode_of(ca / (name + '.key')) == 0o600
        text = ossl('x509', '-in', ca / (name + '.crt'), '-noout', '-text').stdout
        assert 'CA:TRUE' in text and 'Certificate Sign' in text
        assert verify(ca / (name + '.crt'), ca / (name + '.crt')).strip().endswith('OK')
        assert cert_pubkey_sha256(ca / (name + '.crt')) == pubkey_sha256(ca / (name + '.key'))
    assert 'Server CA' in subject_rfc2253(ca / 'server-ca.crt')
    assert 'Phone Client Root CA' in subject_rfc2253(ca / 'client-ca.crt')
    assert subject_rfc2253(ca / 'server-ca.crt') != subject_rfc2253(ca / 'client-ca.crt')

    files = [ca / n for n in ('server-ca.crt', 'server-ca.key', 'client-ca.crt', 'client-ca.key')]
    before = snapshot(*files)
    again = playbook(playbook_text([task('ca', 'lab_ca', {'path': str(ca)})]))
    assert again.task('ca')['changed'] is False and again.task('ca')['created_ca'] == []
    assert snapshot(*files) == before


def test_signs_server_csr_serverauth_sans_from_csr(playbook, tmp_path):
    ca, key, csr, crt = tmp_path / 'ca', tmp_path / 's.key', tmp_path / 's.csr', tmp_path / 's.crt'
    ossl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key,
         '-subj', '/CN=pv.lab.test\\/mailto:ops@lab.test',
         '-addext', 'subjectAltName=DNS:pv.lab.test,DNS:alt.lab.test', '-out', csr)
    sign = task('sign', 'lab_ca', {'path': str(ca), 'csr_path': str(csr), 'cert_path': str(crt)})
    checked = playbook(playbook_text([sign]), check=True)
    assert checked.task('sign')['changed'] is True and not crt.exists() and not ca.exists()
    run = playbook(playbook_text([sign]))
    result = run.task('sign')
    assert result['changed'] is True
    assert verify(ca / 'server-ca.crt', crt).strip().endswith('OK')
    assert 'unable to get local issuer' in verify(ca / 'client-ca.crt', crt)
    exts = ext_text(crt, 'subjectAltName,extendedKeyUsage,basicConstraints')
    assert 'DNS:pv.lab.test, DNS:alt.lab.test' in exts
    assert 'TLS Web Server Authentication' in exts and 'Client Authentication' not in exts
    assert 'CA:FALSE' in exts
    assert subject_rfc2253(crt) == 'CN=pv.lab.test/mailto:ops@lab.test'
    assert result['subject_alt_names'] == ['DNS:pv.lab.test', 'DNS:alt.lab.test']
    assert cert_pubkey_sha256(crt) == pubkey_sha256(key)
    days = int(ossl('x509', '-in', crt, '-noout', '-checkend', str(364 * 86400), check=False).returncode == 0)
    assert days == 1 and ossl('x509', '-in', crt, '-noout', '-checkend', str(366 * 86400), check=False).returncode == 1

    before = snapshot(crt)
    assert playbook(playbook_text([sign])).task('sign')['changed'] is False
    assert snapshot(crt) == before
    # a new CSR (other key) gets a new certificate
    ossl('req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-subj', '/CN=pv.lab.test', '-out', csr)
    resigned = playbook(playbook_text([sign]), diff=True)
    assert resigned.task('sign')['changed'] is True
    assert cert_pubkey_sha256(crt) == pubkey_sha256(key)
    assert ext_text(crt, 'subjectAltName').strip() == ''  # the CSR had no SAN, the CA adds none


def test_phone_client_certificate_and_generic(playbook, tmp_path):
    ca = tmp_path / 'ca'
    phone = {'path': str(ca), 'client': {'mac': '00:0E:08:AB:CD:EF', 'model': 'CP-8841-3PCC', 'serial': '88012BA01234'},
             'cert_path': str(tmp_path / 'p.crt'), 'key_path': str(tmp_path / 'p.key')}
    generic = {'path': str(ca), 'client': {'generic': True}, 'cert_path': str(tmp_path / 'g.crt'),
               'key_path': str(tmp_path / 'g.key'), 'key_type': 'ecc'}
    run = playbook(playbook_text([task('phone', 'lab_ca', phone), task('generic', 'lab_ca', generic),
                                  task('subject', 'ansible.builtin.set_fact',
                                       {'parsed': "{{ lookup('ansible.builtin.pipe', 'openssl x509 -noout -subject -in "
                                                  + str(tmp_path / 'p.crt') + "') | phoneprov.mpp.client_subject }}"})]))
    assert run.rc == 0, run.stdout
    assert run.task('phone')['subject'] == 'OU=CP-8841-3PCC,L=88012BA01234,ST=000e08abcdef'
    assert subject_rfc2253(tmp_path / 'p.crt') == 'OU=CP-8841-3PCC,L=88012BA01234,ST=000e08abcdef'
    assert subject_rfc2253(tmp_path / 'g.crt') == 'OU=cisco.com,L=ciscogeneric,ST=ciscogeneric'
    # the collection's own client_subject filter reads what lab_ca wrote
    assert run.task('subject')['ansible_facts']['parsed'] == {
        'model': 'CP-8841-3PCC', 'serial': '88012BA01234', 'mac': '000e08abcdef', 'generic': False}
    for name in ('p', 'g'):
        assert verify(ca / 'client-ca.crt', tmp_path / (name + '.crt')).strip().endswith('OK')
        assert 'unable to get local issuer' in verify(ca / 'server-ca.crt', tmp_path / (name + '.crt'))
        assert 'TLS Web Client Authentication' in ext_text(tmp_path / (name + '.crt'), 'extendedKeyUsage')
        assert mode_of(tmp_path / (name + '.key')) == 0o600
        assert cert_pubkey_sha256(tmp_path / (name + '.crt')) == pubkey_sha256(tmp_path / (name + '.key'))
    assert 'Private-Key: (2048 bit' in ossl('pkey', '-in', tmp_path / 'p.key', '-noout', '-text').stdout
    assert 'NIST CURVE: P-256' in ossl('pkey', '-in', tmp_path / 'g.key', '-noout', '-text').stdout

    files = snapshot(*(tmp_path / n for n in ('p.crt', 'p.key', 'g.crt', 'g.key')))
    again = playbook(playbook_text([task('phone', 'lab_ca', phone), task('generic', 'lab_ca', generic)]), check=True)
    assert again.changed == 0
    again = playbook(playbook_text([task('phone', 'lab_ca', phone), task('generic', 'lab_ca', generic)]))
    assert again.changed == 0
    assert snapshot(*(tmp_path / n for n in ('p.crt', 'p.key', 'g.crt', 'g.key'))) == files
    # another model for the same MAC: new certificate, the key is kept
    phone['client']['model'] = 'CP-6871-3PCC'
    changed = playbook(playbook_text([task('phone', 'lab_ca', phone)]))
    assert changed.task('phone')['changed'] is True
    assert subject_rfc2253(tmp_path / 'p.crt').startswith('OU=CP-6871-3PCC,')
    assert snapshot(tmp_path / 'p.key') == {str(tmp_path / 'p.key'): files[str(tmp_path / 'p.key')]}


def test_mic_style_client_certificate(playbook, tmp_path):
    ca = tmp_path / 'ca'
    mic = {'path': str(ca), 'client': {'mac': '2c:31:24:c9:f8:e1', 'model': 'CP-8861', 'serial': 'FCH2133E8B9', 'style': 'mic'},
           'cert_path': str(tmp_path / 'm.crt'), 'key_path': str(tmp_path / 'm.key')}
    bad = dict(mic, client=dict(mic['client'], model='CP 8861'), cert_path=str(tmp_path / 'bad.crt'))
    run = playbook(playbook_text([task('mic', 'lab_ca', mic), refusal('bad', 'lab_ca', bad)]))
    assert run.task('mic')['identity'] == 'cn_sep' and run.task('mic')['mac'] == '2c3124c9f8e1'
    # openssl's RFC 2253 print (as nginx's $ssl_client_s_dn): serialNumber by name, SN would be surname.
    assert subject_rfc2253(tmp_path / 'm.crt') == 'CN=CP-8861-SEP2C3124C9F8E1,OU=CTG,O=Cisco Systems Inc.,serialNumber=PID:CP-8861 SN:FCH2133E8B9'
    assert verify(ca / 'client-ca.crt', tmp_path / 'm.crt').strip().endswith('OK')
    assert 'without white space' in run.task('bad')['msg'] and not (tmp_path / 'bad.crt').exists()
    assert playbook(playbook_text([task('mic', 'lab_ca', mic)])).changed == 0
    # The same phone in the guide's style: a new certificate, the key kept.
    guide = dict(mic, client=dict(mic['client'], style='guide'))
    changed = playbook(playbook_text([task('guide', 'lab_ca', guide)]))
    assert changed.task('guide')['changed'] is True and changed.task('guide')['identity'] == 'st'
    assert subject_rfc2253(tmp_path / 'm.crt') == 'OU=CP-8861,L=FCH2133E8B9,ST=2c3124c9f8e1'


def test_many_phones_in_one_task(playbook, tmp_path):
    ca, phones = tmp_path / 'ca', tmp_path / 'phones'
    clients = [{'mac': '00:0e:08:00:00:%02x' % i, 'model': 'CP-8851-3PCC', 'serial': 'SER%04d' % i} for i in range(25)]
    args = {'path': str(ca), 'clients': clients, 'client_dir': str(phones), 'key_type': 'ecc'}
    # check mode before anything exists (an earlier task would create client_dir): all would be issued
    checked = playbook(playbook_text([task('fleet', 'lab_ca', args)]), check=True)
    assert checked.task('fleet')['changed'] is True and len(checked.task('fleet')['issued']) == 25
    assert not ca.exists() and not phones.exists()
    missing = playbook(playbook_text([refusal('fleet', 'lab_ca', args)]))
    assert 'client_dir %s does not exist' % phones in missing.task('fleet')['msg']
    assert not ca.exists()  # refused before the CAs were created
    phones.mkdir()
    run = playbook(playbook_text([task('fleet', 'lab_ca', args)]))
    result = run.task('fleet')
    assert result['changed'] is True
    assert len(result['issued']) == 25 and result['unchanged'] == []
    assert result['issued'][3] == '000e08000003'
    assert sorted(p.name for p in phones.iterdir()) == sorted(
        ['000e080000%02x.%s' % (i, ext) for i in range(25) for ext in ('crt', 'key')])
    bundle = ossl('verify', '-CAfile', ca / 'client-ca.crt', *sorted(phones.glob('*.crt')))
    assert bundle.stdout.count(': OK') == 25
    assert subject_rfc2253(phones / '000e08000017.crt') == 'OU=CP-8851-3PCC,L=SER0023,ST=000e08000017'
    assert all(mode_of(k) == 0o600 for k in phones.glob('*.key'))

    (phones / '000e08000005.crt').unlink()
    again = playbook(playbook_text([task('fleet', 'lab_ca', args)]), diff=True)
    assert again.task('fleet')['diff'] == [{'before_header': str(phones), 'after_header': str(phones), 'before': '',
                                            'after': '000e08000005.crt 000e08000005.key issued\n'}]
    assert again.task('fleet')['issued'] == ['000e08000005']
    assert len(again.task('fleet')['unchanged']) == 24
    third = playbook(playbook_text([task('fleet', 'lab_ca', args)]), check=True)
    assert third.task('fleet')['changed'] is False and third.task('fleet')['issued'] == []
    assert len(third.task('fleet')['unchanged']) == 25


def test_expired_not_yet_valid_and_independent_ca(playbook, tmp_path):
    ca, other = tmp_path / 'ca', tmp_path / 'other'
    client = {'mac': '000e08abcdef'}
    tasks = [
        task('expired', 'lab_ca', {'path': str(ca), 'client': client, 'cert_path': str(tmp_path / 'old.crt'),
                                   'key_path': str(tmp_path / 'old.key'), 'not_before': '-30d', 'not_after': '-10d',
                                   'key_type': 'ecc'}),
        task('future', 'lab_ca', {'path': str(ca), 'client': client, 'cert_path': str(tmp_path / 'new.crt'),
                                  'key_path': str(tmp_path / 'new.key'), 'not_before': '+2d', 'not_after': '+30d',
                                  'key_type': 'ecc'}),
        task('untrusted', 'lab_ca', {'path': str(other), 'client': client, 'cert_path': str(tmp_path / 'u.crt'),
                                     'key_path': str(tmp_path / 'u.key'), 'key_type': 'ecc'}),
    ]
    run = playbook(playbook_text(tasks))
    assert run.rc == 0, run.stdout
    assert 'certificate has expired' in verify(ca / 'client-ca.crt', tmp_path / 'old.crt')
    assert 'certificate is not yet valid' in verify(ca / 'client-ca.crt', tmp_path / 'new.crt')
    assert 'unable to get local issuer' in verify(ca / 'client-ca.crt', tmp_path / 'u.crt')
    assert verify(other / 'client-ca.crt', tmp_path / 'u.crt').strip().endswith('OK')
    assert subject_rfc2253(ca / 'client-ca.crt') != subject_rfc2253(other / 'client-ca.crt')
    now = run.task('untrusted')['not_before']  # five minutes ago
    assert run.task('expired')['not_after'] < now < run.task('future')['not_before']
    # the same relative window asked again is the same certificate
    assert playbook(playbook_text(tasks)).changed == 0


def test_refusals_write_nothing(playbook, tmp_path):
    ca = tmp_path / 'ca'
    (tmp_path / 'junk.csr').write_text('not a CSR\n')
    fresh = playbook(playbook_text([refusal('bad mac', 'lab_ca', {
        'path': str(ca), 'clients': [{'mac': '000e08abcdef'}, {'mac': '00:0e:08:ab:cd:ef'}], 'client_dir': str(tmp_path)})]))
    assert 'clients[1]: 000e08abcdef is listed twice' in fresh.task('bad mac')['msg']
    assert not ca.exists()
    playbook(playbook_text([task('ca', 'lab_ca', {'path': str(ca)})]))
    watched = [tmp_path / n for n in ('p.crt', 'p.key', 'x.crt')] + sorted(ca.iterdir())
    before = snapshot(*watched)
    cases = {
        'bad mac': ({'path': str(ca), 'client': {'mac': '00:0e:08:zz:cd:ef'}, 'cert_path': str(tmp_path / 'p.crt'),
                     'key_path': str(tmp_path / 'p.key')}, 'invalid MAC address'),
        'no mac': ({'path': str(ca), 'client': {'model': 'CP-8841-3PCC'}, 'cert_path': str(tmp_path / 'p.crt'),
                    'key_path': str(tmp_path / 'p.key')}, 'needs mac'),
        'junk csr': ({'path': str(ca), 'csr_path': str(tmp_path / 'junk.csr'), 'cert_path': str(tmp_path / 'x.crt')},
                     'not a readable PEM or DER certificate signing request'),
        'missing csr': ({'path': str(ca), 'csr_path': str(tmp_path / 'none.csr'), 'cert_path': str(tmp_path / 'x.crt')},
                        'does not exist'),
        'backwards window': ({'path': str(ca), 'client': {'mac': '000e08abcdef'}, 'cert_path': str(tmp_path / 'p.crt'),
                              'key_path': str(tmp_path / 'p.key'), 'not_before': '+1d', 'not_after': '-1d'},
                             'must be later than not_before'),
        'bad offset': ({'path': str(ca), 'client': {'mac': '000e08abcdef'}, 'cert_path': str(tmp_path / 'p.crt'),
                        'key_path': str(tmp_path / 'p.key'), 'not_after': 'next tuesday'}, 'relative offset'),
        'both modes': ({'path': str(ca), 'client': {'mac': '000e08abcdef'}, 'csr_path': str(tmp_path / 'junk.csr'),
                        'cert_path': str(tmp_path / 'p.crt'), 'key_path': str(tmp_path / 'p.key')}, 'mutually exclusive'),
    }
    run = playbook(playbook_text([refusal(name, 'lab_ca', args) for name, (args, _m) in cases.items()]))
    for name, (_args, expected) in cases.items():
        assert run.task(name).get('failed') is True, name
        assert expected in run.task(name)['msg'], (name, run.task(name)['msg'])
    assert snapshot(*watched) == before


def test_ansible_doc_renders_every_pki_module():
    for module in ('server_key', 'server_csr', 'server_cert', 'lab_ca'):
        proc = subprocess.run([str(BIN / 'ansible-doc'), 'phoneprov.mpp.' + module], capture_output=True, text=True,
                              timeout=120, check=False,
                              env={'ANSIBLE_COLLECTIONS_PATH': str(REPO / '.build' / 'collections'),
                                   'PATH': '%s:/usr/bin:/bin' % BIN, 'ANSIBLE_NOCOLOR': '1'})
        assert proc.returncode == 0, proc.stderr
        assert 'phoneprov.mpp.' + module in proc.stdout
        assert 'EXAMPLES' in proc.stdout and 'RETURN VALUES' in proc.stdout
        assert 'ERROR' not in proc.stderr


NGINX_CONF = '''
worker_processes 1;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log;
daemon off;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %(dir)s/tmp;
    proxy_temp_path %(dir)s/tmp;
    fastcgi_temp_path %(dir)s/tmp;
    uwsgi_temp_path %(dir)s/tmp;
    scgi_temp_path %(dir)s/tmp;
    server {
        listen 127.0.0.1:%(port)d ssl;
        server_name pv.lab.test;
        ssl_certificate %(cert)s;
        ssl_certificate_key %(key)s;
        ssl_client_certificate %(client_ca)s;
        ssl_verify_client on;
        location / { return 200 "$ssl_client_s_dn\\n"; }
    }
}
'''


def test_real_nginx_and_curl_accept_lab_ca_certificates(playbook, tmp_path):
    """The server chain and the phone certificates work where they are used: nginx + curl."""
    ca, other = tmp_path / 'ca', tmp_path / 'other'
    server = {'path': str(tmp_path / 's.key'), 'type': 'ecc'}
    csr = {'path': str(tmp_path / 's.csr'), 'privatekey_path': str(tmp_path / 's.key'),
           'common_name': 'pv.lab.test/mailto:ops@lab.test'}
    phone = {'mac': '00:0e:08:ab:cd:ef', 'model': 'CP-8841-3PCC', 'serial': 'FCH1234'}
    run = playbook(playbook_text([
        task('key', 'server_key', server), task('csr', 'server_csr', csr),
        task('sign', 'lab_ca', {'path': str(ca), 'csr_path': csr['path'], 'cert_path': str(tmp_path / 'signed.crt')}),
        task('install', 'server_cert', {'src': str(tmp_path / 'signed.crt'), 'path': str(tmp_path / 's.crt'),
                                        'fullchain_path': str(tmp_path / 'full.crt'), 'privatekey_path': server['path'],
                                        'ca_path': str(ca / 'server-ca.crt'), 'fqdn': 'pv.lab.test'}),
        task('phone', 'lab_ca', {'path': str(ca), 'client': phone, 'cert_path': str(tmp_path / 'p.crt'),
                                 'key_path': str(tmp_path / 'p.key'), 'key_type': 'ecc'}),
        task('stranger', 'lab_ca', {'path': str(other), 'client': phone, 'cert_path': str(tmp_path / 'x.crt'),
                                    'key_path': str(tmp_path / 'x.key'), 'key_type': 'ecc'})]))
    assert run.rc == 0, run.stdout
    # both roots are name-constrained to the lab domain (issue 13): nginx and curl below still accept them
    for name in ('server-ca.crt', 'client-ca.crt'):
        assert 'Permitted:\n      DNS:lab.test' in ext_text(ca / name, 'nameConstraints'), name
    port = free_port()
    ndir = tmp_path / 'nginx'
    (ndir / 'tmp').mkdir(parents=True)
    (ndir / 'nginx.conf').write_text(NGINX_CONF % {
        'dir': ndir, 'port': port, 'cert': tmp_path / 'full.crt', 'key': server['path'],
        'client_ca': ca / 'client-ca.crt'})
    proc = subprocess.Popen([NGINX, '-p', str(ndir), '-c', str(ndir / 'nginx.conf')],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        curl = shutil.which('curl')
        base = [curl, '-sS', '--max-time', '5', '--cacert', str(ca / 'server-ca.crt'),
                '--resolve', 'pv.lab.test:%d:127.0.0.1' % port, 'https://pv.lab.test:%d/' % port]
        deadline = time.monotonic() + 10
        while True:
            answer = subprocess.run(base + ['--cert', str(tmp_path / 'p.crt'), '--key', str(tmp_path / 'p.key'),
                                            '-w', ' %{http_code}'], capture_output=True, text=True, timeout=15,
                                    check=False)
            if answer.returncode != 7 or time.monotonic() > deadline:  # 7: not listening yet
                break
            time.sleep(0.1)
        assert answer.stdout.split() == ['OU=CP-8841-3PCC,L=FCH1234,ST=000e08abcdef', '200'], answer
        stranger = subprocess.run(base + ['--cert', str(tmp_path / 'x.crt'), '--key', str(tmp_path / 'x.key'),
                                          '-w', ' %{http_code}', '-o', '/dev/null'],
                                  capture_output=True, text=True, timeout=15, check=False)
        assert stranger.stdout.strip() == '400'  # nginx: "The SSL certificate error"
        untrusted_server = subprocess.run([curl, '-sS', '--max-time', '5', '--cacert', str(other / 'server-ca.crt'),
                                           '--resolve', 'pv.lab.test:%d:127.0.0.1' % port,
                                           'https://pv.lab.test:%d/' % port], capture_output=True, text=True,
                                          timeout=15, check=False)
        assert untrusted_server.returncode == 60  # peer certificate cannot be authenticated
    finally:
        stop_process(proc)
