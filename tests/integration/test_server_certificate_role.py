# -*- coding: utf-8 -*-
"""Role phoneprov.mpp.server_certificate end to end: real dnsmasq, openssl as the judge."""
from __future__ import annotations

import hashlib
import os
import stat

from mpp_harness import REPO, openssl, playbook_text

FQDN = 'prov.mpp.test'


def base_vars(tmp_path, dns, **extra):
    data = {
        'mpp_cert_fqdn': FQDN,
        'mpp_cert_cn_suffix': 'mailto:admin@mpp.test',
        'mpp_cert_subject': {'O': 'phoneprov test', 'C': 'DE'},
        'mpp_cert_dir': str(tmp_path / 'pki'),
        'mpp_cert_csr_controller_dir': str(tmp_path / 'controller'),
        'mpp_cert_nameservers': [dns.address],
        'mpp_cert_dns_port': dns.port,
        'mpp_cert_expected_addresses': ['127.0.0.1'],
    }
    data.update(extra)
    return data


ROLE = [{'role': 'phoneprov.mpp.server_certificate'}]
ROLE_PLAY = playbook_text(name='server certificate', roles=ROLE, post_tasks=[
    {'name': 'show', 'ansible.builtin.debug': {'var': 'mpp_cert_installed'}}])


def digest(path):
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()


def test_lab_signer_end_to_end_idempotent_check_mode(tmp_path, dns_server, playbook):
    dns = dns_server({FQDN: ['127.0.0.1']})
    variables = base_vars(tmp_path, dns, mpp_cert_signer='lab')
    first = playbook(ROLE_PLAY, extra_vars=variables)
    assert first.rc == 0, first.stderr + first.stdout[-3000:]
    assert first.changed > 0
    pki = tmp_path / 'pki'
    facts = first.task('show')['mpp_cert_installed']
    assert facts['cert_path'] == str(pki / 'server.crt')
    assert facts['fullchain_path'] == str(pki / 'server-fullchain.crt')
    assert facts['key_path'] == str(pki / 'server.key')
    assert facts['common_name'] == 'prov.mpp.test/mailto:admin@mpp.test'
    assert facts['dns_ok'] is True
    assert facts['resolved_addresses'] == ['127.0.0.1']
    assert facts['client_ca_path'].endswith('client-ca.crt') and os.path.exists(facts['client_ca_path'])

    # judges: openssl on the CSR fetched to the controller, on the chain, and the key's mode
    csr = tmp_path / 'controller' / 'localhost' / ('%s.csr' % FQDN)
    assert 'verify OK' in (openssl('req', '-verify', '-noout', '-in', str(csr)).stderr
                           + openssl('req', '-verify', '-noout', '-in', str(csr)).stdout)
    text = openssl('req', '-noout', '-text', '-in', str(csr)).stdout
    assert 'DNS:prov.mpp.test' in text and 'DNS:prov.mpp.test/' not in text
    assert openssl('verify', '-CAfile', facts['ca_path'], str(pki / 'server.crt')).stdout.strip().endswith('OK')
    assert openssl('verify', '-CAfile', facts['ca_path'], str(pki / 'server-fullchain.crt')).returncode == 0
    subject = openssl('x509', '-noout', '-subject', '-nameopt', 'RFC2253', '-in', str(pki / 'server.crt')).stdout
    assert 'CN=prov.mpp.test/mailto:admin@mpp.test' in subject
    assert stat.S_IMODE(os.stat(pki / 'server.key').st_mode) == 0o600
    key_mod = openssl('rsa', '-noout', '-modulus', '-in', str(pki / 'server.key')).stdout
    assert key_mod == openssl('x509', '-noout', '-modulus', '-in', str(pki / 'server.crt')).stdout

    before = dict((name, digest(pki / name)) for name in ('server.key', 'server.csr', 'server.crt', 'server-fullchain.crt'))
    second = playbook(ROLE_PLAY, extra_vars=variables)
    assert second.rc == 0 and second.changed == 0, [t for t in second.tasks if t[1].get('changed')]
    checked = playbook(ROLE_PLAY, extra_vars=variables, check=True, diff=True)
    assert checked.rc == 0 and checked.changed == 0
    assert before == dict((name, digest(pki / name)) for name in before)


def test_check_mode_on_a_fresh_host_writes_nothing(tmp_path, dns_server, playbook):
    dns = dns_server({FQDN: ['127.0.0.1']})
    result = playbook(ROLE_PLAY, extra_vars=base_vars(tmp_path, dns, mpp_cert_signer='lab'), check=True, diff=True)
    assert result.rc == 0, result.stdout[-3000:]
    assert result.task('Create or keep the server private key')['changed'] is True
    assert not (tmp_path / 'pki').exists()
    assert not (tmp_path / 'controller').exists()


PENDING_PLAY = (
    playbook_text(name='server certificate, pending', roles=ROLE, post_tasks=[
        {'name': 'after the role', 'ansible.builtin.debug': {'msg': 'should not run while pending'}}])
    + playbook_text([{'name': 'next play', 'ansible.builtin.debug': {'var': 'mpp_cert_pending'}}], name='the next play'))


def make_ca(workdir, name):
    workdir.mkdir(parents=True, exist_ok=True)
    key, cert = workdir / ('%s.key' % name), workdir / ('%s.crt' % name)
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', str(key), '-out', str(cert), '-days', '365',
            '-subj', '/O=Test/CN=%s' % name, '-addext', 'basicConstraints=critical,CA:TRUE',
            '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
    return cert, key


def sign(csr, ca_cert, ca_key, out, days=200):
    ext = out.parent / 'ext.cnf'
    ext.write_text('extendedKeyUsage=serverAuth\nsubjectAltName=DNS:%s\n' % FQDN)
    openssl('x509', '-req', '-in', str(csr), '-CA', str(ca_cert), '-CAkey', str(ca_key), '-CAcreateserial',
            '-out', str(out), '-days', str(days), '-extfile', str(ext))
    return out


def test_cisco_signer_pending_then_signed_then_kept(tmp_path, dns_server, playbook):
    dns = dns_server({FQDN: ['127.0.0.1']})
    variables = base_vars(tmp_path, dns)
    csr = tmp_path / 'controller' / 'localhost' / ('%s.csr' % FQDN)
    pki = tmp_path / 'pki'

    # 1. no signed certificate yet: a failure that names the CSR, nothing installed
    pending = playbook(PENDING_PLAY, extra_vars=variables)
    assert pending.rc != 0
    message = pending.task('Name the CSR to submit to Cisco (stop with an error)')['msg']
    assert str(csr) in message and 'Submit the CSR' in message and 'mpp_cert_signed_src' in message
    assert csr.exists()
    assert not (pki / 'server.crt').exists()
    assert [t for t in pending.tasks if t[0] in ('after the role', 'next play')] == []
    shown = pending.task('Show the CSR (PEM) for jobs whose controller directory is temporary')['msg']
    assert '\n'.join(shown) + '\n' == csr.read_text()

    # 1b. end_host: the play ends for the host without a failure, later plays see mpp_cert_pending
    ended = playbook(PENDING_PLAY, extra_vars=dict(variables, mpp_cert_pending_action='end_host'))
    assert ended.rc == 0 and ended.failed == 0
    assert str(csr) in ended.task('Name the CSR to submit to Cisco')['msg']
    assert 'after the role' not in [t[0] for t in ended.tasks]
    assert ended.task('next play')['mpp_cert_pending'] is True

    # 2. "Cisco" (an openssl CA) signs the fetched CSR; the role installs it
    ca_cert, ca_key = make_ca(tmp_path / 'cisco', 'Fake Cisco Server CA')
    signed = sign(csr, ca_cert, ca_key, tmp_path / 'cisco' / 'provserver.crt')
    signed_vars = dict(variables, mpp_cert_signed_src=str(signed), mpp_cert_ca_src=str(ca_cert))
    dry = playbook(ROLE_PLAY, extra_vars=signed_vars, check=True, diff=True)
    assert dry.rc == 0 and dry.task('Copy the signed certificate from the controller')['changed'] is True
    assert not (pki / 'server.crt').exists() and not (pki / 'server.signed.crt').exists()
    installed = playbook(ROLE_PLAY, extra_vars=signed_vars)
    assert installed.rc == 0, installed.stdout[-3000:]
    assert openssl('verify', '-CAfile', str(ca_cert), str(pki / 'server.crt')).returncode == 0
    assert (openssl('x509', '-noout', '-fingerprint', '-sha256', '-in', str(pki / 'server.crt')).stdout
            == openssl('x509', '-noout', '-fingerprint', '-sha256', '-in', str(signed)).stdout)
    facts = installed.task('show')['mpp_cert_installed']
    assert facts['ca_path'] == str(pki / 'server-ca.pem') and facts['dns_ok'] is True
    again = playbook(ROLE_PLAY, extra_vars=signed_vars)
    assert again.changed == 0

    # 3. later runs without the signed file keep re-checking the installed certificate
    kept = playbook(ROLE_PLAY, extra_vars=variables)
    assert kept.rc == 0 and kept.changed == 0
    assert kept.task('show')['mpp_cert_installed']['days_remaining'] >= 198
    as_content = playbook(ROLE_PLAY, extra_vars=dict(variables, mpp_cert_signed_content=signed.read_text()))
    assert as_content.rc == 0 and as_content.changed == 0

    # 4. a certificate from another CA is refused; the installed one stays as it was
    before = digest(pki / 'server.crt')
    other_cert, other_key = make_ca(tmp_path / 'other', 'Other CA')
    wrong = sign(csr, other_cert, other_key, tmp_path / 'other' / 'wrong.crt')
    refused = playbook(ROLE_PLAY, extra_vars=dict(variables, mpp_cert_signed_src=str(wrong), mpp_cert_ca_src=str(ca_cert)))
    assert refused.rc != 0
    assert 'nothing written' in refused.task('Install the signed certificate and full chain')['msg']
    assert digest(pki / 'server.crt') == before


def test_dns_check_scale_out_missing_server(tmp_path, dns_server, playbook):
    dns = dns_server({FQDN: ['127.0.0.1', '127.0.0.3']})
    variables = base_vars(tmp_path, dns, mpp_cert_signer='lab',
                          mpp_cert_expected_addresses=['127.0.0.1', '127.0.0.2', '127.0.0.3'])
    failed = playbook(ROLE_PLAY, extra_vars=variables)
    assert failed.rc != 0
    task = failed.task('Check the CN against DNS like a phone does')
    assert task['failed'] is True and task['missing_addresses'] == ['127.0.0.2']
    assert 'lacks 127.0.0.2' in task['msg']

    warned = playbook(ROLE_PLAY, extra_vars=dict(variables, mpp_cert_dns_fail_on_mismatch=False))
    assert warned.rc == 0
    assert warned.task('show')['mpp_cert_installed']['dns_ok'] is False
    assert any('lacks 127.0.0.2' in w for w in warned.task('Check the CN against DNS like a phone does')['warnings'])

    dns.set_records({})
    gone = playbook(ROLE_PLAY, extra_vars=variables)
    assert gone.task('Check the CN against DNS like a phone does')['dns_error'] == 'NXDOMAIN'


def test_stage_playbooks_on_group_provisioning_servers(tmp_path, dns_server, playbook):
    dns = dns_server({FQDN: ['127.0.0.1']})
    inventory = tmp_path / 'servers.ini'
    inventory.write_text('[provisioning_servers]\nlocalhost\n')
    variables = base_vars(tmp_path, dns, mpp_cert_signer='lab')
    del variables['mpp_cert_csr_controller_dir']  # default: csr/ next to the inventory
    request = playbook(str(REPO / 'playbooks' / 'request_csr.yml'), extra_vars=variables, args=('-i', str(inventory)))
    assert request.rc == 0, request.stdout[-3000:]
    csr = tmp_path / 'csr' / 'localhost' / ('%s.csr' % FQDN)
    assert csr.exists()
    assert str(csr) in request.task('Name the CSR to submit')['msg']
    assert not (tmp_path / 'pki' / 'server.crt').exists()

    install = playbook(str(REPO / 'playbooks' / 'install_cert.yml'), extra_vars=variables, args=('-i', str(inventory)))
    assert install.rc == 0, install.stdout[-3000:]
    assert (tmp_path / 'pki' / 'server-fullchain.crt').exists()
    assert install.task('Check the CN against DNS like a phone does')['ok'] is True


def test_encrypted_ecc_key_secret_never_printed(tmp_path, dns_server, playbook):
    dns = dns_server({FQDN: ['127.0.0.1']})
    secret = 'n0t-in-any-log-7f3a'
    variables = base_vars(tmp_path, dns, mpp_cert_signer='lab', mpp_cert_key_type='ecc',
                          mpp_cert_key_passphrase=secret)
    result = playbook(ROLE_PLAY, extra_vars=variables)  # the json callback prints every task's invocation
    assert result.rc == 0, result.stdout[-3000:]
    assert secret not in result.stdout and secret not in result.stderr
    key = str(tmp_path / 'pki' / 'server.key')
    assert openssl('pkey', '-in', key, '-passin', 'pass:wrong', '-noout', check=False).returncode != 0
    assert 'ASN1 OID: prime256v1' in openssl('pkey', '-in', key, '-passin', 'pass:%s' % secret, '-text', '-noout').stdout
    assert playbook(ROLE_PLAY, extra_vars=variables).changed == 0


def test_cisco_certificate_with_intermediate_keeps_its_chain(tmp_path, dns_server, playbook):
    dns = dns_server({FQDN: ['127.0.0.1']})
    variables = base_vars(tmp_path, dns)
    csr = tmp_path / 'controller' / 'localhost' / ('%s.csr' % FQDN)
    pki = tmp_path / 'pki'
    request = playbook(ROLE_PLAY, extra_vars=dict(variables, mpp_cert_request_only=True))
    assert request.rc == 0 and csr.exists()

    # root -> intermediate -> server certificate; the signed file carries the intermediate
    root_cert, root_key = make_ca(tmp_path / 'cisco', 'Fake Cisco Root')
    inter_dir = tmp_path / 'cisco'
    inter_key, inter_csr, inter_cert = inter_dir / 'inter.key', inter_dir / 'inter.csr', inter_dir / 'inter.crt'
    openssl('req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', str(inter_key), '-out', str(inter_csr),
            '-subj', '/O=Test/CN=Fake Cisco Intermediate')
    ext = inter_dir / 'ca.cnf'
    ext.write_text('basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n')
    openssl('x509', '-req', '-in', str(inter_csr), '-CA', str(root_cert), '-CAkey', str(root_key), '-CAcreateserial',
            '-out', str(inter_cert), '-days', '300', '-extfile', str(ext))
    leaf = sign(csr, inter_cert, inter_key, inter_dir / 'leaf.crt')
    bundle = inter_dir / 'provserver.crt'
    bundle.write_text(leaf.read_text() + inter_cert.read_text())

    signed_vars = dict(variables, mpp_cert_signed_src=str(bundle), mpp_cert_ca_src=str(root_cert))
    installed = playbook(ROLE_PLAY, extra_vars=signed_vars)
    assert installed.rc == 0, installed.stdout[-3000:]
    fullchain = pki / 'server-fullchain.crt'
    assert fullchain.read_text().count('BEGIN CERTIFICATE') == 2
    assert openssl('verify', '-CAfile', str(root_cert), '-untrusted', str(fullchain), str(pki / 'server.crt')).returncode == 0
    before = digest(fullchain)

    kept = playbook(ROLE_PLAY, extra_vars=variables)
    assert kept.rc == 0 and kept.changed == 0, kept.stdout[-3000:]
    assert digest(fullchain) == before
