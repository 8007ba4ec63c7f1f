# -*- coding: utf-8 -*-
"""phoneprov.mpp.server_csr through ansible-playbook; ``openssl req -verify`` is the judge."""

from __future__ import annotations

import pytest

from mpp_harness import playbook_text
from pki_helpers import ext_text, ossl, refusal, snapshot, task

CN = 'pv.telco.net/mailto:admin@telco.net'


@pytest.fixture
def key(tmp_path):
    path = tmp_path / 'server.key'
    ossl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', path)
    return path


def csr_args(tmp_path, key, **extra):
    args = {'path': str(tmp_path / 'server.csr'), 'privatekey_path': str(key), 'common_name': CN,
            'subject': {'O': 'Telco Inc.', 'C': 'US'}}
    args.update(extra)
    return args


def req_text(path):
    return ossl('req', '-in', path, '-noout', '-text').stdout


def test_csr_openssl_verifies_default_san_is_fqdn_alone(playbook, tmp_path, key):
    csr = tmp_path / 'server.csr'
    run = playbook(playbook_text([task('csr', 'server_csr', csr_args(tmp_path, key))]))
    assert run.rc == 0, run.stdout
    result = run.task('csr')
    assert result['changed'] is True
    assert result['fqdn'] == 'pv.telco.net'
    assert result['common_name'] == CN
    assert result['subject_alt_names'] == ['DNS:pv.telco.net']
    assert result['subject'] == {'CN': CN, 'O': 'Telco Inc.', 'C': 'US'}
    assert result['csr'] == csr.read_text()
    verify = ossl('req', '-in', csr, '-verify', '-noout')
    assert 'verify OK' in verify.stdout + verify.stderr
    subject = ossl('req', '-in', csr, '-noout', '-subject', '-nameopt', 'RFC2253').stdout
    assert 'CN=pv.telco.net/mailto:admin@telco.net' in subject and 'O=Telco Inc.' in subject and 'C=US' in subject
    san = ext_text(csr, 'subjectAltName', req=True)
    assert 'DNS:pv.telco.net' in san and 'mailto' not in san
    assert 'sha256WithRSAEncryption' in req_text(csr)
    # the CSR carries the key's public key (openssl extracts both)
    pub = ossl('req', '-in', csr, '-noout', '-pubkey').stdout
    assert pub == ossl('pkey', '-in', key, '-pubout').stdout

    before = snapshot(csr)
    again = playbook(playbook_text([task('csr', 'server_csr', csr_args(tmp_path, key))]), diff=True)
    assert again.task('csr')['changed'] is False
    checked = playbook(playbook_text([task('csr', 'server_csr', csr_args(tmp_path, key))]), check=True)
    assert checked.task('csr')['changed'] is False
    assert snapshot(csr) == before


def test_check_mode_writes_nothing(playbook, tmp_path, key):
    run = playbook(playbook_text([task('csr', 'server_csr', csr_args(tmp_path, key))]), check=True, diff=True)
    assert run.task('csr')['changed'] is True
    assert 'BEGIN CERTIFICATE REQUEST' in run.task('csr')['csr']
    assert not (tmp_path / 'server.csr').exists()


def test_regenerates_only_when_subject_sans_digest_or_key_change(playbook, tmp_path, key):
    csr = tmp_path / 'server.csr'
    playbook(playbook_text([task('csr', 'server_csr', csr_args(tmp_path, key))]))
    steps = [
        ('subject', csr_args(tmp_path, key, subject={'O': 'Telco Ltd.', 'C': 'US'})),
        ('sans', csr_args(tmp_path, key, subject={'O': 'Telco Ltd.', 'C': 'US'},
                          subject_alt_names=['DNS:pv.telco.net', 'DNS:pv2.telco.net', 'IP:192.0.2.10'])),
        ('digest', csr_args(tmp_path, key, subject={'O': 'Telco Ltd.', 'C': 'US'},
                            subject_alt_names=['DNS:pv.telco.net', 'DNS:pv2.telco.net', 'IP:192.0.2.10'],
                            digest='sha384', backup=True)),
    ]
    tasks = []
    for name, args in steps:
        tasks += [task(name, 'server_csr', args), task(name + ' again', 'server_csr', args)]
    run = playbook(playbook_text(tasks))
    assert run.rc == 0, run.stdout
    for name, _args in steps:
        assert run.task(name)['changed'] is True, name
        assert run.task(name + ' again')['changed'] is False, name
    assert 'backup_file' in run.task('digest')
    text = req_text(csr)
    assert 'sha384WithRSAEncryption' in text
    assert 'DNS:pv2.telco.net' in text and 'IP Address:192.0.2.10' in text
    assert 'O=Telco Ltd.' in ossl('req', '-in', csr, '-noout', '-subject', '-nameopt', 'RFC2253').stdout
    # a new key changes the CSR
    ossl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key)
    final = steps[-1][1]
    rekeyed = playbook(playbook_text([task('rekey', 'server_csr', final)]))
    assert rekeyed.task('rekey')['changed'] is True
    assert ossl('req', '-in', csr, '-noout', '-pubkey').stdout == ossl('pkey', '-in', key, '-pubout').stdout
    verify = ossl('req', '-in', csr, '-verify', '-noout')
    assert 'verify OK' in verify.stdout + verify.stderr


def test_refusals_name_the_problem_and_write_nothing(playbook, tmp_path, key):
    csr = tmp_path / 'server.csr'
    playbook(playbook_text([task('csr', 'server_csr', csr_args(tmp_path, key))]))
    before = snapshot(csr, tmp_path / 'missing.key')
    cases = {
        'ip cn': (csr_args(tmp_path, key, common_name='192.0.2.1'), 'all-numeric'),
        'wildcard cn': (csr_args(tmp_path, key, common_name='*.telco.net'), 'wildcard'),
        'single label': (csr_args(tmp_path, key, common_name='prov'), 'single label'),
        'underscore': (csr_args(tmp_path, key, common_name='pv_1.telco.net/x'), 'letters, digits and hyphens'),
        'md5': (csr_args(tmp_path, key, digest='md5'), 'digest md5 is weak'),
        'sha1': (csr_args(tmp_path, key, digest='sha1'), 'digest sha1 is weak'),
        'san with suffix': (csr_args(tmp_path, key, subject_alt_names=['DNS:' + CN]), 'SAN holds the FQDN alone'),
        'san without fqdn': (csr_args(tmp_path, key, subject_alt_names=['DNS:other.telco.net']),
                             'do not include DNS:pv.telco.net'),
        'bad san type': (csr_args(tmp_path, key, subject_alt_names=['pv.telco.net']), 'TYPE:value'),
        'missing key': (csr_args(tmp_path, tmp_path / 'missing.key'), 'does not exist'),
        'cn conflict': (csr_args(tmp_path, key, subject={'CN': 'other.telco.net'}), 'differs from common_name'),
        'bad country': (csr_args(tmp_path, key, subject={'C': 'USA'}), 'two-letter'),
    }
    run = playbook(playbook_text([refusal(name, 'server_csr', args) for name, (args, _m) in cases.items()]))
    for name, (_args, expected) in cases.items():
        result = run.task(name)
        assert result.get('failed') is True, name
        assert expected in result['msg'], (name, result['msg'])
    assert 'common_name refused' in run.task('ip cn')['msg']
    assert snapshot(csr, tmp_path / 'missing.key') == before


def test_weak_digests_with_allow_weak(playbook, tmp_path, key):
    md5 = csr_args(tmp_path, key, path=str(tmp_path / 'md5.csr'), digest='md5', allow_weak=True)
    sha1 = csr_args(tmp_path, key, path=str(tmp_path / 'sha1.csr'), digest='sha1', allow_weak=True)
    run = playbook(playbook_text([task('md5', 'server_csr', md5), task('sha1', 'server_csr', sha1),
                                  task('md5 again', 'server_csr', md5), task('sha1 again', 'server_csr', sha1)]))
    assert run.rc == 0, run.stdout
    assert run.task('md5')['changed'] and run.task('sha1')['changed']
    assert not run.task('md5 again')['changed'] and not run.task('sha1 again')['changed']
    assert any('weak digest md5' in w for w in run.task('md5').get('warnings', []))
    assert 'md5WithRSAEncryption' in req_text(tmp_path / 'md5.csr')
    assert 'sha1WithRSAEncryption' in req_text(tmp_path / 'sha1.csr')
    for name in ('md5.csr', 'sha1.csr'):
        verify = ossl('req', '-in', tmp_path / name, '-verify', '-noout')
        assert 'verify OK' in verify.stdout + verify.stderr
    # ECDSA signatures differ on every signing: the second run must still keep the CSR
    ecc_key = tmp_path / 'ecc.key'
    ossl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', ecc_key)
    ecc = csr_args(tmp_path, ecc_key, path=str(tmp_path / 'ecc-sha1.csr'), digest='sha1', allow_weak=True)
    run = playbook(playbook_text([task('ecc sha1', 'server_csr', ecc), task('ecc sha1 again', 'server_csr', ecc),
                                  task('lab signs md5', 'lab_ca', {'path': str(tmp_path / 'ca'), 'csr_path': str(tmp_path / 'md5.csr'),
                                                                   'cert_path': str(tmp_path / 'md5.crt')})]))
    assert run.rc == 0, run.stdout
    assert run.task('ecc sha1')['changed'] and not run.task('ecc sha1 again')['changed']
    assert 'ecdsa-with-SHA1' in req_text(tmp_path / 'ecc-sha1.csr')
    assert run.task('lab signs md5')['changed'] is True


def test_passphrase_protected_key(playbook, tmp_path):
    key = tmp_path / 'enc.key'
    ossl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384', '-aes256', '-pass', 'pass:open sesame',
         '-out', key)
    good = csr_args(tmp_path, key, privatekey_passphrase='open sesame')
    run = playbook(playbook_text([refusal('no passphrase', 'server_csr', csr_args(tmp_path, key)),
                                  refusal('bad passphrase', 'server_csr', csr_args(tmp_path, key, privatekey_passphrase='guess-123')),
                                  task('good', 'server_csr', good), task('again', 'server_csr', good)]))
    assert 'passphrase is required' in run.task('no passphrase')['msg']
    assert 'wrong passphrase' in run.task('bad passphrase')['msg']
    assert run.task('good')['changed'] is True and run.task('again')['changed'] is False
    assert 'open sesame' not in run.stdout
    csr = tmp_path / 'server.csr'
    assert ossl('req', '-in', csr, '-noout', '-pubkey').stdout == \
        ossl('pkey', '-in', key, '-passin', 'pass:open sesame', '-pubout').stdout
