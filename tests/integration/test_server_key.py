# -*- coding: utf-8 -*-
"""phoneprov.mpp.server_key through ansible-playbook, judged by the openssl command line."""

from __future__ import annotations

import os

from mpp_harness import playbook_text
from pki_helpers import mode_of, ossl, pubkey_sha256, refusal, snapshot, task


def test_default_rsa_key_created_0600_kept_and_check_mode(playbook, tmp_path):
    key = tmp_path / 'server.key'
    run = playbook(playbook_text([task('key', 'server_key', {'path': str(key)})]))
    assert run.rc == 0, run.stdout
    result = run.task('key')
    assert result['changed'] is True
    assert result['filename'] == str(key)
    assert (result['type'], result['size'], result['curve']) == ('rsa', 2048, None)
    assert 'path' not in result
    assert mode_of(key) == 0o600
    text = ossl('pkey', '-in', key, '-noout', '-text').stdout
    assert 'Private-Key: (2048 bit' in text
    assert ossl('pkey', '-in', key, '-check', '-noout').returncode == 0
    assert result['fingerprint'] == pubkey_sha256(key)

    before = snapshot(key)
    again = playbook(playbook_text([task('key', 'server_key', {'path': str(key)})]))
    assert again.task('key')['changed'] is False
    assert again.task('key')['fingerprint'] == result['fingerprint']
    checked = playbook(playbook_text([task('key', 'server_key', {'path': str(key)})]), check=True, diff=True)
    assert checked.task('key')['changed'] is False
    assert snapshot(key) == before


def test_types_and_sizes(playbook, tmp_path):
    tasks = [task('ecc256', 'server_key', {'path': str(tmp_path / 'e256.key'), 'type': 'ecc'}),
             task('ecc384', 'server_key', {'path': str(tmp_path / 'e384.key'), 'type': 'ecc', 'curve': 'P-384'}),
             task('rsa3072', 'server_key', {'path': str(tmp_path / 'r3072.key'), 'size': 3072})]
    run = playbook(playbook_text(tasks))
    assert run.rc == 0, run.stdout
    assert (run.task('ecc256')['type'], run.task('ecc256')['size'], run.task('ecc256')['curve']) == ('ecc', 256, 'P-256')
    assert 'NIST CURVE: P-256' in ossl('pkey', '-in', tmp_path / 'e256.key', '-noout', '-text').stdout
    assert 'NIST CURVE: P-384' in ossl('pkey', '-in', tmp_path / 'e384.key', '-noout', '-text').stdout
    assert run.task('ecc384')['size'] == 384
    assert 'Private-Key: (3072 bit' in ossl('pkey', '-in', tmp_path / 'r3072.key', '-noout', '-text').stdout
    assert run.task('rsa3072')['fingerprint'] == pubkey_sha256(tmp_path / 'r3072.key')
    again = playbook(playbook_text(tasks))
    assert again.changed == 0


def test_check_mode_creates_nothing_and_diff_shows_no_key(playbook, tmp_path):
    key = tmp_path / 'server.key'
    run = playbook(playbook_text([task('key', 'server_key', {'path': str(key)})]), check=True, diff=True)
    result = run.task('key')
    assert result['changed'] is True
    assert not key.exists()
    assert 'PRIVATE KEY' not in run.stdout


def test_mismatch_regenerates_with_backup_and_force(playbook, tmp_path):
    key = tmp_path / 'server.key'
    first = playbook(playbook_text([task('key', 'server_key', {'path': str(key)})])).task('key')
    run = playbook(playbook_text([task('key', 'server_key', {'path': str(key), 'type': 'ecc', 'backup': True})]))
    result = run.task('key')
    assert result['changed'] is True
    assert 'rsa' in result['reason'] and 'ecc' in result['reason']
    assert result['fingerprint'] != first['fingerprint']
    assert 'NIST CURVE: P-256' in ossl('pkey', '-in', key, '-noout', '-text').stdout
    assert os.path.exists(result['backup_file'])
    assert pubkey_sha256(result['backup_file']) == first['fingerprint']
    assert mode_of(key) == 0o600
    # a bigger RSA size is a mismatch too
    bigger = playbook(playbook_text([task('key', 'server_key', {'path': str(key), 'size': 3072})]))
    assert bigger.task('key')['changed'] is True
    assert bigger.task('key')['size'] == 3072
    # force replaces a matching key
    forced = playbook(playbook_text([task('key', 'server_key', {'path': str(key), 'size': 3072, 'force': True})]))
    assert forced.task('key')['changed'] is True
    assert forced.task('key')['fingerprint'] != bigger.task('key')['fingerprint']
    assert forced.task('key')['fingerprint'] == pubkey_sha256(key)


def test_passphrase_protected_key(playbook, tmp_path):
    key = tmp_path / 'server.key'
    args = {'path': str(key), 'passphrase': 's3cret pass'}
    run = playbook(playbook_text([task('key', 'server_key', args)]))
    assert run.task('key')['changed'] is True
    assert 'ENCRYPTED PRIVATE KEY' in key.read_text()
    assert 's3cret' not in run.stdout
    assert pubkey_sha256(key, 's3cret pass') == run.task('key')['fingerprint']
    assert ossl('pkey', '-in', key, '-passin', 'pass:wrong', '-noout', check=False).returncode != 0
    assert playbook(playbook_text([task('key', 'server_key', args)])).task('key')['changed'] is False


def test_refusals_name_the_problem_and_change_nothing(playbook, tmp_path):
    enc = tmp_path / 'enc.key'
    plain = tmp_path / 'plain.key'
    junk = tmp_path / 'junk.key'
    weak = tmp_path / 'weak.key'
    ossl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-aes256',
         '-pass', 'pass:right', '-out', enc)
    ossl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', plain)
    junk.write_text('this is not a key\n')
    before = snapshot(enc, plain, junk, weak)
    run = playbook(playbook_text([
        refusal('wrong passphrase', 'server_key', {'path': str(enc), 'passphrase': 'bad-guess-42'}),
        refusal('no passphrase', 'server_key', {'path': str(enc)}),
        refusal('passphrase for plain key', 'server_key', {'path': str(plain), 'passphrase': 'unneeded-42'}),
        refusal('junk', 'server_key', {'path': str(junk)}),
        refusal('junk with force', 'server_key', {'path': str(junk), 'force': True}),
        refusal('weak', 'server_key', {'path': str(weak), 'size': 1024}),
    ]))
    msgs = dict((name, run.task(name).get('msg', '')) for name in (
        'wrong passphrase', 'no passphrase', 'passphrase for plain key', 'junk', 'junk with force', 'weak'))
    for name in msgs:
        assert run.task(name).get('failed') is True, name
    assert 'wrong passphrase' in msgs['wrong passphrase']
    assert 'refusing to replace' in msgs['wrong passphrase']
    assert 'passphrase is required' in msgs['no passphrase']
    assert 'not encrypted' in msgs['passphrase for plain key']
    assert 'not a readable' in msgs['junk'] and 'not a readable' in msgs['junk with force']
    assert '1024-bit RSA key is weak' in msgs['weak'] and 'allow_weak' in msgs['weak']
    assert snapshot(enc, plain, junk, weak) == before
    # the right passphrase keeps the key as it is
    ok = playbook(playbook_text([task('right', 'server_key', {'path': str(enc), 'passphrase': 'right'})]))
    assert ok.task('right')['changed'] is False
    assert snapshot(enc) == {str(enc): before[str(enc)]}


def test_weak_key_only_with_allow_weak_and_a_warning(playbook, tmp_path):
    weak = tmp_path / 'weak.key'
    run = playbook(playbook_text([task('weak', 'server_key', {'path': str(weak), 'size': 1024, 'allow_weak': True})]))
    result = run.task('weak')
    assert result['changed'] is True and result['size'] == 1024
    assert any('weak 1024-bit' in w for w in result.get('warnings', []))
    assert 'Private-Key: (1024 bit' in ossl('pkey', '-in', weak, '-noout', '-text').stdout


def test_existing_key_with_wide_mode_is_tightened_and_mode_option_respected(playbook, tmp_path):
    key = tmp_path / 'server.key'
    ossl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', key)
    os.chmod(key, 0o644)
    content = key.read_bytes()
    run = playbook(playbook_text([task('tighten', 'server_key', {'path': str(key)}),
                                  task('group', 'server_key', {'path': str(tmp_path / 'g.key'), 'type': 'ecc', 'mode': '0640'})]))
    assert run.task('tighten')['changed'] is True
    assert mode_of(key) == 0o600 and key.read_bytes() == content  # same key, only the mode changed
    assert mode_of(tmp_path / 'g.key') == 0o640
