# -*- coding: utf-8 -*-
"""Certificate expiry and renewal (issue 15) on the real system nginx (local run, not the test bed).

One server deployed by the provisioning_server role, serving a live certificate from the lab CA
with 20 days left. verify.yml reads the certificate nginx serves (a new file without a reload is
not it) and warns/fails on mpp_cert_warn_days/mpp_cert_fail_days; renew_cert.yml stages a new
key and CSR (live files untouched), refuses a certificate for the wrong key or CN (the old one
keeps serving), then with signer lab installs and switches with a reload while a curl loop with a
phone's client certificate keeps resyncing. openssl s_client is the judge of what is served.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mpp_harness import REPO, DnsServer, openssl, run_playbook, stop_process
from provisioning_server_helpers import make_pki, running_server

FQDN = 'prov.mpp.test'
MAC = '000e08abcdef'
LIVE_FILES = ('server.key', 'server.crt', 'server-fullchain.crt', 'server.csr')
PROFILE = '<flat-profile><Resync_Periodic>3600</Resync_Periodic></flat-profile>\n'


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def lab_signed(workdir, name, ca_dir, days, cn=FQDN, csr=None):
    """A server certificate from the lab CA (openssl CLI): for a new key, or for ``csr``'s key with ``cn``."""
    workdir = Path(workdir)
    key = workdir / ('%s.key' % name)
    if csr is None:
        csr = workdir / ('%s.csr' % name)
        openssl('req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', str(key), '-out', str(csr), '-subj', '/CN=%s' % cn)
    ext = workdir / ('%s.ext' % name)
    ext.write_text('subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n' % cn)
    cert = workdir / ('%s.crt' % name)
    openssl('x509', '-req', '-in', str(csr), '-CA', str(ca_dir / 'server-ca.crt'), '-CAkey', str(ca_dir / 'server-ca.key'),
            '-set_serial', '0x%x' % int.from_bytes(os.urandom(8), 'big'), '-days', str(days), '-sha256',
            '-subj', '/CN=%s' % cn, '-out', str(cert), '-extfile', str(ext))
    return key, cert


def serial_of(path):
    return openssl('x509', '-noout', '-serial', '-in', str(path)).stdout.strip().split('=')[1].upper()


class Bed(object):
    """The deployed server, its inventory and how to run the collection's playbooks against it."""

    def __init__(self, workdir, server, pki, dns):
        self.workdir, self.server, self.pki, self.dns = workdir, server, pki, dns
        self.ssl = workdir / 'ssl'
        self.ca_dir = Path(pki.server_ca).parent
        self.old_serial = serial_of(self.ssl / 'server.crt')
        phone = pki.phone(MAC)
        self.phone = phone
        host = {
            'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable,
            'mpp_cert_fqdn': FQDN, 'mpp_cert_dir': str(self.ssl), 'mpp_cert_lab_ca_dir': str(self.ca_dir),
            'mpp_cert_csr_controller_dir': str(workdir / 'csr'), 'mpp_cert_ca_src': pki.server_ca,
            'mpp_cert_nameservers': [dns.address], 'mpp_cert_dns_port': dns.port,
            'mpp_cert_expected_addresses': ['127.0.0.1'],
            'mpp_verify_ca_path': pki.server_ca, 'mpp_verify_nameservers': [dns.address], 'mpp_verify_dns_port': dns.port,
            'mpp_phones': [{'mac': MAC, 'model': phone['model'], 'serial': phone['serial'],
                            'client_cert': phone['cert'], 'client_key': phone['key']}],
        }
        host.update(server.vars)
        self.inventory = workdir / 'hosts.yml'
        self.inventory.write_text(yaml.safe_dump({'all': {'children': {'provisioning_servers': {'hosts': {'localhost': host}}}}}))

    def run(self, name, playbook, **extra_vars):
        return run_playbook(self.workdir / name, REPO / 'playbooks' / playbook, extra_vars=extra_vars or None,
                            args=('-i', str(self.inventory)))

    def served_serial(self):
        """The serial nginx serves for FQDN, as openssl s_client sees it."""
        hello = openssl('s_client', '-connect', '127.0.0.1:%d' % self.server.port, '-servername', FQDN, input='', check=False)
        return openssl('x509', '-noout', '-serial', input=hello.stdout).stdout.strip().split('=')[1].upper()

    def live_digests(self):
        return dict((name, digest(self.ssl / name)) for name in LIVE_FILES)


@pytest.fixture(scope='module')
def bed(tmp_path_factory):
    workdir = tmp_path_factory.mktemp('cert-renewal')
    dns = DnsServer(workdir / 'dns', {FQDN: ['127.0.0.1']})
    try:
        pki = make_pki(workdir / 'pki')
        ssl_dir = workdir / 'ssl'
        ssl_dir.mkdir()
        # The live pair: 20 days left, under the default mpp_cert_warn_days (60), over mpp_cert_fail_days (14).
        key, cert = lab_signed(ssl_dir, 'server', Path(pki.server_ca).parent, 20)
        os.chmod(str(key), 0o600)
        (ssl_dir / 'server-fullchain.crt').write_bytes(cert.read_bytes())
        (ssl_dir / 'server-ca.pem').write_bytes(Path(pki.server_ca).read_bytes())
        extra = {'mpp_server_cert_path': str(ssl_dir / 'server-fullchain.crt'), 'mpp_server_key_path': str(key)}
        with running_server(workdir / 'server', pki=pki, extra_vars=extra, profiles={MAC: PROFILE}) as server:
            yield Bed(workdir, server, pki, dns)
    finally:
        dns.stop()


def served_cert_task(result):
    return result.task('Days left on the certificate the server serves (fetched live)')


def test_verify_warns_and_fails_on_the_served_certificate(bed):
    warned = bed.run('verify-warn', 'verify.yml')
    assert warned.rc == 0, warned.stdout[-4000:]
    served = served_cert_task(warned)
    assert served['expiry'] == 'warn' and 19 <= served['days_left'] <= 20
    assert served['serial'] == bed.old_serial
    assert any('warn_days' in warning for warning in served.get('warnings', [])), served

    failed = bed.run('verify-fail', 'verify.yml', mpp_cert_fail_days=30)
    assert failed.rc != 0
    check = failed.task('The certificate the server serves has enough days left')
    assert check.get('failed') and 'fewer than 30 (fail_days)' in check['msg'], check

    quiet = bed.run('verify-quiet', 'verify.yml', mpp_cert_warn_days=10)
    assert quiet.rc == 0 and served_cert_task(quiet)['expiry'] == 'ok' and not served_cert_task(quiet).get('warnings')

    # A newer certificate file that nginx has not loaded: verify reports the one served.
    fullchain = bed.ssl / 'server-fullchain.crt'
    original = fullchain.read_bytes()
    _key, newer = lab_signed(bed.workdir, 'newer', bed.ca_dir, 300)
    fullchain.write_bytes(newer.read_bytes())
    try:
        unloaded = bed.run('verify-unloaded', 'verify.yml')
    finally:
        fullchain.write_bytes(original)
    served = served_cert_task(unloaded)
    assert served['serial'] == bed.old_serial != serial_of(newer)
    assert served['days_left'] <= 20 and served['expiry'] == 'warn'


def curl_loop(bed, out, stop_file):
    """A phone resyncing in a bounded loop (at most 3000 requests or 240 s, until ``stop_file`` exists), one status a line."""
    script = ('end=$((SECONDS+240)); n=0; while [ ! -e %s ] && [ $SECONDS -lt $end ] && [ $n -lt 3000 ]; do '
              'code=$(curl -sS -o /dev/null -w "%%{http_code}" --max-time 5 --cacert %s --cert %s --key %s '
              '--resolve %s:%d:127.0.0.1 https://%s:%d/cfg/%s.xml 2>&1 | tr -s " " _); echo "$code" >> %s; n=$((n+1)); done'
              % (stop_file, bed.pki.server_ca, bed.phone['cert'], bed.phone['key'], FQDN, bed.server.port, FQDN, bed.server.port,
                 MAC, out))
    return subprocess.Popen(['bash', '-c', script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_renewal_staged_refused_then_switched_without_downtime(bed):
    before = bed.live_digests()
    renew_csr = bed.workdir / 'csr' / 'localhost' / ('%s.renew.csr' % FQDN)

    # Stage (signer cisco): new key and CSR next to the live ones, the CSR on the controller.
    staged = bed.run('renew-stage', 'renew_cert.yml')
    assert staged.rc == 0, staged.stdout[-4000:]
    assert bed.live_digests() == before
    assert (bed.ssl / 'server.key.next').exists() and (bed.ssl / 'server.csr.next').exists()
    assert renew_csr.read_bytes() == (bed.ssl / 'server.csr.next').read_bytes()
    verified = openssl('req', '-verify', '-noout', '-in', str(renew_csr))
    assert 'verify OK' in verified.stderr + verified.stdout
    assert bed.served_serial() == bed.old_serial
    line = staged.task('Per server - old and new notAfter, switched or not, what it serves now')
    assert 'renewal staged' in str(line), line
    staged_key = digest(bed.ssl / 'server.key.next')

    # Refused: a certificate for another key, then one for the staged key with a CN that is not the FQDN.
    _key, wrong_key = lab_signed(bed.workdir, 'wrong-key', bed.ca_dir, 365)
    _none, wrong_cn = lab_signed(bed.workdir, 'wrong-cn', bed.ca_dir, 365, cn='other.mpp.test', csr=bed.ssl / 'server.csr.next')
    for name, cert, words in (('wrong-key', wrong_key, 'key'), ('wrong-cn', wrong_cn, 'other.mpp.test')):
        refused = bed.run('renew-' + name, 'renew_cert.yml', mpp_cert_renew_signed_src=str(cert))
        assert refused.rc != 0, name
        stop = refused.task('Stop with the reason, the old certificate serving')
        assert 'was refused' in stop['msg'] and words in stop['msg'], stop['msg']
        summary = str(refused.task('Per server - old and new notAfter, switched or not, what it serves now'))
        assert 'new certificate REFUSED, still on the old certificate' in summary and bed.old_serial in summary, summary
        final = refused.task('Every server renewed or safe - none refused, rolled back or about to expire')
        assert final.get('failed') and 'the renewal of localhost did not go through' in final['msg'], final
        assert bed.served_serial() == bed.old_serial
        assert bed.live_digests() == before
        assert digest(bed.ssl / 'server.key.next') == staged_key

    # Install with signer lab and switch while a phone keeps resyncing.
    out, stop_file = bed.workdir / 'curl-loop.txt', bed.workdir / 'curl-loop.stop'
    loop = curl_loop(bed, out, stop_file)
    try:
        switched = bed.run('renew-lab', 'renew_cert.yml', mpp_cert_signer='lab')
    finally:
        # The loop ends after its current request; stop_process only when it does not.
        stop_file.touch()
        try:
            loop.wait(timeout=15)
        except subprocess.TimeoutExpired:
            stop_process(loop)
    assert switched.rc == 0, switched.stdout[-6000:]
    codes = out.read_text().split()
    assert len(codes) >= 20 and set(codes) == {'200'}, codes[-20:]
    new_serial = bed.served_serial()
    assert new_serial != bed.old_serial
    assert new_serial == serial_of(bed.ssl / 'server.crt')
    assert digest(bed.ssl / 'server.key') == staged_key
    for name in LIVE_FILES:
        assert digest(bed.ssl / (name + '.prev')) == before[name], name
        assert not (bed.ssl / (name + '.next')).exists(), name
    checked = switched.task('A phone resyncs with the new certificate')
    assert checked['summary']['A'] == 1, checked
    line = str(switched.task('Per server - old and new notAfter, switched or not, what it serves now'))
    assert 'switched to the new certificate' in line and new_serial in line and bed.old_serial in line

    # Not due any more: a second run stages nothing and keeps serving the new certificate.
    again = bed.run('renew-again', 'renew_cert.yml')
    assert again.rc == 0 and not (bed.ssl / 'server.key.next').exists()
    assert bed.served_serial() == new_serial
