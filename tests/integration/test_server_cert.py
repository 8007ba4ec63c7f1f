# -*- coding: utf-8 -*-
"""phoneprov.mpp.server_cert: every refusal writes nothing; openssl verify judges what is installed."""

from __future__ import annotations

import os
import shutil

import pytest

from mpp_harness import playbook_text, run_playbook
from pki_helpers import cert_pubkey_sha256, ossl, pubkey_sha256, refusal, snapshot, task

FQDN = 'pv.lab.test'


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    """A server key + CSR, a lab CA, an untrusted CA, and certificates good and bad."""
    d = tmp_path_factory.mktemp('servercert')
    key, csr, ca, other = d / 'server.key', d / 'server.csr', d / 'ca', d / 'other-ca'
    # CSRs the module would refuse to write, made with openssl directly
    ossl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', d / 'other.key')
    signed = {
        'good': dict(csr=csr), 'good2': dict(csr=csr, days=400), 'short': dict(csr=csr, not_after='+10d'),
        'expired': dict(csr=csr, not_before='-30d', not_after='-1d'),
        'future': dict(csr=csr, not_before='+2d', not_after='+400d'),
        'clientauth': dict(csr=csr, extended_key_usage='clientAuth'),
        'otherfqdn': dict(csr=d / 'otherfqdn.csr'), 'badcn': dict(csr=d / 'badcn.csr'),
        'nocn': dict(csr=d / 'nocn.csr'), 'otherkey': dict(csr=d / 'otherkey.csr'),
        'wholecnsan': dict(csr=d / 'wholecnsan.csr'),
    }
    tasks = [task('key', 'server_key', {'path': str(key)}),
             task('csr', 'server_csr', {'path': str(csr), 'privatekey_path': str(key),
                                        'common_name': FQDN + '/mailto:ops@lab.test'}),
             task('other csr', 'server_csr', {'path': str(d / 'otherkey.csr'), 'privatekey_path': str(d / 'other.key'),
                                              'common_name': FQDN}),
             task('ca', 'lab_ca', {'path': str(ca)}),
             task('untrusted', 'lab_ca', {'path': str(other), 'csr_path': str(csr), 'cert_path': str(d / 'untrusted.crt')})]
    run = run_playbook(d / 'setup1', playbook_text(tasks[:2]))
    assert run.rc == 0, run.stdout
    for name, subj in (('otherfqdn', '/CN=other.lab.test'), ('badcn', '/CN=192.0.2.1'), ('nocn', '/O=No CN')):
        ossl('req', '-new', '-key', key, '-subj', subj, '-out', d / (name + '.csr'))
    # what a generic CSR tool does: the whole CN copied into a DNS SAN
    ossl('req', '-new', '-key', key, '-subj', '/CN=%s\\/mailto:ops@lab.test' % FQDN,
         '-addext', 'subjectAltName=DNS:%s/mailto:ops@lab.test' % FQDN, '-out', d / 'wholecnsan.csr')
    for name, spec in signed.items():
        args = {'path': str(ca), 'csr_path': str(spec.pop('csr')), 'cert_path': str(d / (name + '.crt'))}
        args.update(spec)
        tasks.append(task('sign ' + name, 'lab_ca', args))
    run = run_playbook(d / 'setup2', playbook_text(tasks[2:]))
    assert run.rc == 0, run.stdout
    # an intermediate CA, made by openssl under a root of its own (the lab roots have path length 0:
    # no intermediate below them), signing a leaf for the same key
    (d / 'ca.ext').write_text('basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n')
    (d / 'interroot').mkdir()
    ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', d / 'interroot' / 'root.key', '-subj', '/CN=Lab Root With Intermediates',
         '-days', '365', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
         '-out', d / 'interroot' / 'root.crt')
    (d / 'leaf.ext').write_text('basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n'
                                'subjectAltName=DNS:%s\n' % FQDN)
    ossl('req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', d / 'inter.key',
         '-subj', '/CN=Lab Intermediate', '-out', d / 'inter.csr')
    ossl('x509', '-req', '-in', d / 'inter.csr', '-CA', d / 'interroot' / 'root.crt', '-CAkey', d / 'interroot' / 'root.key',
         '-CAcreateserial', '-days', '365', '-extfile', d / 'ca.ext', '-out', d / 'inter.crt')
    ossl('x509', '-req', '-in', csr, '-CA', d / 'inter.crt', '-CAkey', d / 'inter.key', '-CAcreateserial',
         '-days', '365', '-extfile', d / 'leaf.ext', '-out', d / 'viainter.crt')
    ossl('x509', '-in', d / 'good.crt', '-outform', 'DER', '-out', d / 'good.der')
    (d / 'bundle.crt').write_text((d / 'viainter.crt').read_text() + (d / 'inter.crt').read_text())
    return d


def install_args(lab, src='good.crt', **extra):
    args = {'src': str(lab / src) if src else None, 'path': str(lab / 'out' / 'server.crt'), 'privatekey_path': str(lab / 'server.key'),
            'ca_path': str(lab / 'ca' / 'server-ca.crt'), 'fqdn': FQDN}
    args.update(extra)
    return dict((k, v) for k, v in args.items() if v is not None)


@pytest.fixture
def out(lab):
    path = lab / 'out'
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir()
    return path


def test_install_checks_and_writes_cert_and_fullchain(lab, out, playbook):
    args = install_args(lab, fullchain_path=str(out / 'fullchain.crt'))
    checked = playbook(playbook_text([task('install', 'server_cert', args)]), check=True)
    assert checked.task('install')['changed'] is True
    assert not (out / 'server.crt').exists()

    run = playbook(playbook_text([task('install', 'server_cert', args)]), diff=True)
    assert run.rc == 0, run.stdout
    result = run.task('install')
    assert result['changed'] is True
    assert result['common_name'] == FQDN + '/mailto:ops@lab.test' and result['fqdn'] == FQDN
    assert result['subject_alt_names'] == ['DNS:' + FQDN]
    assert 363 <= result['days_remaining'] <= 365
    serial = ossl('x509', '-in', out / 'server.crt', '-noout', '-serial').stdout.strip()
    assert serial == 'serial=' + result['serial']
    fp = ossl('x509', '-in', out / 'server.crt', '-noout', '-fingerprint', '-sha256').stdout.strip()
    assert fp.split('=', 1)[1].lower() == result['fingerprint']
    assert 'server-ca.crt' not in result['issuer'] and 'Server CA' in result['issuer']
    assert ossl('verify', '-CAfile', lab / 'ca' / 'server-ca.crt', out / 'server.crt').stdout.strip().endswith('OK')
    assert cert_pubkey_sha256(out / 'server.crt') == pubkey_sha256(lab / 'server.key')
    # with a root-signed leaf, the full chain is the leaf alone (nginx does not want the root)
    assert (out / 'fullchain.crt').read_text() == (out / 'server.crt').read_text()
    assert (out / 'server.crt').read_text() == (lab / 'good.crt').read_text()

    before = snapshot(out / 'server.crt', out / 'fullchain.crt')
    again = playbook(playbook_text([task('install', 'server_cert', args)]))
    assert again.task('install')['changed'] is False
    assert playbook(playbook_text([task('install', 'server_cert', args)]), check=True).task('install')['changed'] is False
    assert snapshot(out / 'server.crt', out / 'fullchain.crt') == before


def test_der_content_chain_and_backup(lab, out, playbook):
    inter_root = lab / 'interroot' / 'root.crt'
    run = playbook(playbook_text([
        task('der', 'server_cert', install_args(lab, 'good.der')),
        task('content', 'server_cert', install_args(lab, src=None, content=(lab / 'good.crt').read_text())),
        task('chain', 'server_cert', install_args(lab, 'viainter.crt', chain_path=str(lab / 'inter.crt'), ca_path=str(inter_root),
                                                  fullchain_path=str(out / 'fullchain.crt'), backup=True)),
        task('bundle', 'server_cert', install_args(lab, 'bundle.crt', fullchain_path=str(out / 'fullchain.crt'), ca_path=str(inter_root))),
        refusal('no chain', 'server_cert', install_args(lab, 'viainter.crt', path=str(out / 'nochain.crt'), ca_path=str(inter_root))),
    ]))
    assert run.task('der')['changed'] is True
    assert run.task('content')['changed'] is False  # same certificate as the DER one, written as PEM
    chain = run.task('chain')
    assert chain['changed'] is True
    assert os.path.exists(chain['backup_file'])
    with open(chain['backup_file']) as backup:  # what the DER src installed: the same certificate, as PEM
        assert backup.read() == (lab / 'good.crt').read_text()
    assert len(chain['chain']) == 3
    full = (out / 'fullchain.crt').read_text()
    assert full == (lab / 'viainter.crt').read_text() + (lab / 'inter.crt').read_text()  # leaf first, then intermediate
    verify = ossl('verify', '-CAfile', inter_root, '-untrusted', lab / 'inter.crt', out / 'server.crt')
    assert verify.stdout.strip().endswith('OK')
    assert run.task('bundle')['changed'] is False  # the intermediate came in the same file
    assert 'does not chain' in run.task('no chain')['msg']
    assert not (out / 'nochain.crt').exists()


def test_each_refusal_names_the_problem_and_writes_nothing(lab, out, playbook):
    base = playbook(playbook_text([task('install', 'server_cert', install_args(lab, fullchain_path=str(out / 'full.crt')))]))
    assert base.rc == 0, base.stdout
    before = snapshot(out / 'server.crt', out / 'full.crt')
    cases = {
        'expired': (install_args(lab, 'expired.crt'), 'has expired'),
        'not yet valid': (install_args(lab, 'future.crt'), 'is not yet valid'),
        'untrusted': (install_args(lab, 'untrusted.crt'), 'does not chain to a trusted CA'),
        'wrong key': (install_args(lab, 'otherkey.crt'), 'does not match the private key'),
        'bad cn': (install_args(lab, 'badcn.crt', fqdn=None), "breaks the phones' CN rule"),
        'no cn': (install_args(lab, 'nocn.crt'), 'no subject CN'),
        'other fqdn': (install_args(lab, 'otherfqdn.crt'), 'names the FQDN other.lab.test, but fqdn is pv.lab.test'),
        'client eku': (install_args(lab, 'clientauth.crt'), 'does not include serverAuth'),
        'short': (install_args(lab, 'short.crt'), 'fewer than min_days_valid 30'),
        'not a cert': (install_args(lab, 'server.key'), 'holds no PEM CERTIFICATE block'),
        'wrong ca file': (install_args(lab, ca_path=str(lab / 'server.csr')), 'holds no PEM CERTIFICATE block'),
    }
    # a good certificate whose full chain cannot be written: the certificate is not written either
    tasks = [refusal('no fullchain dir', 'server_cert', install_args(lab, 'good2.crt',
                                                                     fullchain_path=str(out / 'nodir' / 'full.crt')))]
    for name, (args, _m) in cases.items():
        args = dict(args, fullchain_path=str(out / 'full.crt'))
        tasks.append(refusal(name, 'server_cert', args))
    run = playbook(playbook_text(tasks))
    for name, (_args, expected) in cases.items():
        result = run.task(name)
        assert result.get('failed') is True, name
        assert expected in result['msg'], (name, result['msg'])
    assert 'nothing written' in run.task('expired')['msg']
    assert 'destination directory of %s does not exist' % (out / 'nodir' / 'full.crt') in run.task('no fullchain dir')['msg']
    assert run.task('short')['days_remaining'] in (9, 10)
    assert snapshot(out / 'server.crt', out / 'full.crt') == before
    # the same short-lived certificate passes with a lower threshold
    ok = playbook(playbook_text([task('short ok', 'server_cert', install_args(lab, 'short.crt', min_days_valid=5))]))
    assert ok.task('short ok')['changed'] is True
    assert ok.task('short ok')['days_remaining'] in (9, 10)


def test_whole_cn_in_san_is_refused_or_with_san_mismatch_warn_installed_with_a_warning(lab, out, playbook):
    # issue 13: DNS SANs that do not name the FQDN fail by default (other TLS clients refuse them)
    refused = playbook(playbook_text([refusal('install', 'server_cert', install_args(lab, 'wholecnsan.crt'))]))
    assert "do not include %s; TLS clients other than the phones" % FQDN in refused.task('install')['msg']
    assert not (out / 'server.crt').exists()
    run = playbook(playbook_text([task('install', 'server_cert', install_args(lab, 'wholecnsan.crt', san_mismatch='warn'))]))
    result = run.task('install')
    assert result['changed'] is True
    assert result['subject_alt_names'] == ['DNS:%s/mailto:ops@lab.test' % FQDN]
    warnings = ' '.join(result.get('warnings', []))
    assert 'the whole CN with its /suffix' in warnings and 'do not include %s' % FQDN in warnings
    plain = playbook(playbook_text([task('install', 'server_cert', install_args(lab))]))
    assert not plain.task('install').get('warnings')
