# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab example on real servers: examples/lab/inventory-ssh.yml against two test-bed hosts.

Two fresh Debian servers (12 and 13, testbed.py) behind one FQDN, reached over SSH as ``deploy``
with sudo, the modules running under each server's own /usr/bin/python3. The inventory is the
example's, unchanged; a second inventory source gives only what the test bed decides (address,
port, key, known_hosts). The controller keeps the lab in a directory of its own and its dnsmasq on
a free port, so that a ``make demo`` on the same machine is left alone.

Judges: the servers' file systems and package database, real openssl and curl on the controller
with a phone's client certificate against each server's address, and ansible-playbook's results.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from mpp_harness import REPO, free_port, openssl, playbook_text, read_pid, stop_process
from pki_helpers import pem_private_keys_and_needles
from testbed import TestBed

LAB = REPO / 'examples' / 'lab'
INVENTORY = LAB / 'inventory-ssh.yml'
DEMO = LAB / 'demo.yml'
FQDN = 'prov.mpp.test'
SECOND_FQDN = 'second.mpp.test'
FLEET = yaml.safe_load((LAB / 'group_vars' / 'all' / 'fleet.yml').read_text())['mpp_phones']
# The hosts of inventory-ssh.yml and the release each one is on the test bed.
SERVERS = (('prov1', 'bookworm'), ('prov2', 'trixie'))
HTTPS_PORT = 18443  # the lab's own port: each server's nginx listens on its own address
TIMINGS = {}


def _ma(mac):
    return ''.join(c for c in mac.lower() if c in '0123456789abcdef')


class SshLab(object):
    """The lab of inventory-ssh.yml on a bed of its own: the hosts, the controller's lab, the runs."""

    def __init__(self, first_address):
        start = time.monotonic()
        self.bed = TestBed(first_address=first_address)
        self.hosts = [self.bed.host(name, release) for name, release in SERVERS]
        TIMINGS.setdefault('bring-up', []).append(time.monotonic() - start)
        self.controller_dir = Path(tempfile.mkdtemp(prefix='mpp-ssh-lab-', dir='/tmp'))
        os.chmod(self.controller_dir, 0o755)
        shutil.rmtree(self.controller_dir)  # the lab play creates it: a run from nothing
        self.dns_port = free_port()
        self.overlay = self.bed.workdir / 'testbed-hosts.yml'
        self.overlay.write_text(yaml.safe_dump({'all': {'children': {'provisioning_servers': {
            'hosts': dict((host.name, {'ansible_host': host.address, 'ansible_port': host.port}) for host in self.hosts),
            'vars': {'ansible_ssh_private_key_file': str(self.bed.key),
                     'ansible_ssh_common_args': '-o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes' % self.bed.known_hosts},
        }}}}))
        self.outputs = []

    def run(self, workdir, playbook=DEMO, args=(), what='run'):
        """ansible-playbook -i inventory-ssh.yml -i <test bed hosts> PLAYBOOK, timed, its output kept."""
        start = time.monotonic()
        args = ['-i', str(self.overlay), '-e', 'mpp_lab_dir=%s' % self.controller_dir,
                '-e', 'mpp_lab_dns_port=%d' % self.dns_port] + list(args)
        result = self.bed.playbook(workdir, playbook, inventory=INVENTORY, args=args)
        TIMINGS.setdefault(what, []).append(time.monotonic() - start)
        self.outputs.append(result.stdout + result.stderr)
        return result

    def server_path(self, host, *parts):
        """The controller's view of a file in the server's lab directory."""
        return host.path(str(self.controller_dir / host.name / Path(*parts)))

    def curl(self, host, mac, path=None, port=HTTPS_PORT, ca=None, cert_dir=None, fqdn=FQDN):
        """Real curl as the phone ``mac``: the FQDN pinned to ``host``'s address, the lab server CA the only trust."""
        cert_dir = Path(cert_dir or self.controller_dir / 'phones')
        cmd = ['curl', '-sS', '-o', '-', '-w', '\n%{http_code}', '--max-time', '10',
               '--resolve', '%s:%d:%s' % (fqdn, port, host.address),
               '--cacert', str(ca or self.controller_dir / 'ca' / 'server-ca.crt'),
               '--cert', str(cert_dir / ('%s.crt' % _ma(mac))), '--key', str(cert_dir / ('%s.key' % _ma(mac))),
               'https://%s:%d%s' % (fqdn, port, path or '/cfg/%s.xml' % _ma(mac))]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
        body, _sep, status = proc.stdout.rpartition('\n')
        return int(status or 0), body or proc.stderr

    def teardown(self):
        stop_process(read_pid(self.controller_dir / 'dnsmasq' / 'dnsmasq.pid'))
        errors = self.bed.teardown()
        shutil.rmtree(self.controller_dir, ignore_errors=True)
        return errors


def _failures(result):
    return '%s\n%s' % (json.dumps(result.failures(), indent=1)[-6000:], result.stderr[-3000:])


def _tree(root, skip=()):
    """(path -> (mode, size, mtime_ns, link target)) of everything under ``root`` except ``skip`` (inside paths)."""
    root = str(root)
    out = {}
    for dirpath, dirs, files in os.walk(root):
        inside = '/' + os.path.relpath(dirpath, root).lstrip('.')
        dirs[:] = [d for d in dirs if os.path.join(inside, d).replace('//', '/') not in skip]
        for name in dirs + files:
            path = os.path.join(dirpath, name)
            stat = os.lstat(path)
            out[path[len(root):]] = (stat.st_mode, stat.st_size if not os.path.isdir(path) else 0, stat.st_mtime_ns,
                                     os.readlink(path) if os.path.islink(path) else None)
    return out


# What an SSH login with sudo writes on any server, whatever the playbook does: the login records,
# sudo's timestamps, and Ansible's own temporary directories (the modules' payloads, removed after
# each task). Mounted file systems (/proc, /sys, /dev, /run) are not the host's disk.
LOGIN_AND_ANSIBLE = ('/proc', '/sys', '/dev', '/run', '/var/log/wtmp', '/var/log/wtmp.db', '/var/log/btmp', '/var/log/lastlog',
                     '/home/deploy/.ansible', '/root/.ansible', '/var/lib/sudo')


# Directories where Ansible makes (and removes) its temporary files, and the login records' directory:
# their contents are compared, not their mtime.
ANSIBLE_TMP_PARENTS = ('/tmp', '/home/deploy', '/root', '/var/log')


def _host_tree(host):
    tree = _tree(host.root, skip=LOGIN_AND_ANSIBLE)
    return dict((path, value[:2] + (None,) + value[3:] if path in ANSIBLE_TMP_PARENTS else value)
                for path, value in tree.items() if path not in LOGIN_AND_ANSIBLE)


def test_check_diff_from_nothing_writes_nothing(tmp_path):
    """`demo.yml --check --diff` on two fresh servers: it reports what it would install and create,
    succeeds, and afterwards no file of either server nor of the controller's lab has changed."""
    lab = SshLab(first_address=50)
    try:
        before = dict((host.name, _host_tree(host)) for host in lab.hosts)
        result = lab.run(tmp_path, args=['--check', '--diff'], what='check --diff from nothing')
        assert result.rc == 0, _failures(result)
        for host in lab.hosts:
            assert result.host_stats(host.name)['changed'] > 0, result.host_stats(host.name)
            assert result.on(host.name, 'Report the Python libraries a real run installs (check mode)')['changed'] is True
            assert result.on(host.name, 'Report that a real run installs nginx (check mode)')['changed'] is True
            assert len(result.on(host.name, 'Publish one profile per phone')['created']) == len(FLEET)
            after = _host_tree(host)
            assert after == before[host.name], sorted(set(after.items()) ^ set(before[host.name].items()))[:20]
            assert host.run('dpkg -s python3-cryptography nginx', check=False).returncode != 0
        assert not lab.controller_dir.exists(), sorted(str(p) for p in lab.controller_dir.rglob('*'))
    finally:
        assert lab.teardown() == []


@pytest.fixture(scope='module')
def ssh_lab():
    lab = SshLab(first_address=60)
    try:
        yield lab
    finally:
        errors = lab.teardown()
        print('\ntest bed timings (s): %s' % json.dumps(dict((k, [round(v, 1) for v in vs]) for k, vs in TIMINGS.items())))
        assert errors == []


@pytest.fixture(scope='module')
def deployed(ssh_lab, tmp_path_factory):
    """The first run of the lab's demo.yml from nothing on both servers."""
    return ssh_lab.run(tmp_path_factory.mktemp('first'), what='first run')


def test_site_from_nothing_on_two_servers(ssh_lab, deployed):
    result = deployed
    assert result.rc == 0, _failures(result)
    lab = ssh_lab
    ca = lab.controller_dir / 'ca'
    for host in lab.hosts:
        stats = result.host_stats(host.name)
        assert stats['failures'] == 0 and stats['unreachable'] == 0 and stats['changed'] > 0, stats
        # The libraries came from the distribution, for the server's own Python, before the first module.
        look = result.on(host.name, 'Look for the Python libraries the modules need')
        assert look['cmd'][0] == '/usr/bin/python3' and look['rc'] != 0
        assert result.on(host.name, "Install the Python libraries the modules need (the distribution's packages)")['changed'] is True
        assert host.run('dpkg -s python3-cryptography python3-dnspython nginx').returncode == 0
        # The key was made on the server and stayed there; the CSR went to the controller, the
        # certificate came back signed by the one lab CA of the controller.
        key = lab.server_path(host, 'tls', 'server.key')
        assert oct(key.stat().st_mode & 0o777) == '0o600'
        csr = lab.controller_dir / 'csr' / host.name / ('%s.csr' % FQDN)
        signed = lab.controller_dir / 'csr' / host.name / ('%s.crt' % FQDN)
        assert csr.read_text() == lab.server_path(host, 'tls', 'server.csr').read_text()
        installed = lab.server_path(host, 'tls', 'server.crt')
        assert openssl('verify', '-CAfile', str(ca / 'server-ca.crt'), str(installed)).stdout.strip().endswith('OK')
        assert signed.read_text().strip() in installed.read_text()
        assert openssl('x509', '-noout', '-modulus', '-in', str(installed)).stdout == \
            openssl('rsa', '-noout', '-modulus', '-in', str(key)).stdout
        assert not lab.server_path(host, 'ca').exists() and not host.path(str(ca)).exists()
        # The phone client root came from the controller.
        assert lab.server_path(host, 'tls', 'client-ca.pem').read_text().strip() == (ca / 'client-ca.crt').read_text().strip()
        assert sorted(p.name for p in lab.server_path(host, 'profiles').glob('*.xml')) == sorted('%s.xml' % _ma(p['mac']) for p in FLEET)
        assert host.run('nginx -t -q').returncode == 0
        # Every phone resyncs A from each server: phone_check on the controller, through the lab
        # DNS, connecting to that server's address; and real curl as the phone agrees.
        check = result.on(host.name, 'Resync like the phones (phone_check, fleet mode)')
        assert check['summary']['A'] == len(FLEET) and check['summary']['unexpected'] == 0, check['summary']
        assert set(phone['peer_address'] for phone in check['phones']) == {host.address}
        for phone in FLEET:
            status, body = lab.curl(host, phone['mac'])
            assert status == 200 and phone['lines'][0]['user_id'] in body, (host.name, phone['mac'], status, body)
        assert lab.curl(host, FLEET[1]['mac'], path='/cfg/%s.xml' % _ma(FLEET[0]['mac']))[0] == 403
    # One lab DNS name, both addresses.
    records = (lab.controller_dir / 'dnsmasq' / 'hosts').read_text()
    assert all('%s %s' % (host.address, FQDN) in records for host in lab.hosts), records
    summary = '\n'.join(result.on(lab.hosts[0].name, 'Emulated resync of each phone')['msg'])
    assert all('%s: A - ' % _ma(phone['mac']) in summary for phone in FLEET), summary


def _files_holding(roots, needles, skip=()):
    found = []
    for root in roots:
        for dirpath, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if not any(os.path.join(dirpath, d).startswith(s) for s in skip)]
            for name in files:
                path = os.path.join(dirpath, name)
                try:
                    # Regular files only: opening a FIFO another process left in /tmp would block.
                    if os.path.islink(path) or not os.path.isfile(path) or os.path.getsize(path) > 50 << 20:
                        continue
                    with open(path, 'rb') as handle:
                        data = handle.read()
                except OSError:
                    continue
                found += [(path, needle) for needle in needles if needle in data]
    return found


def test_private_keys_never_leave_the_servers(ssh_lab, deployed, tmp_path_factory):
    """No piece of either server's key is on the controller's disk (the lab directory, /tmp, /var/tmp,
    Ansible's directories) or in any output of the runs."""
    assert deployed.rc == 0, _failures(deployed)
    needles = []
    for host in ssh_lab.hosts:
        pem = ssh_lab.server_path(host, 'tls', 'server.key').read_text()
        der = subprocess.run(['openssl', 'pkey', '-outform', 'DER'], input=pem.encode(), capture_output=True, check=True).stdout
        lines = [line for line in pem.splitlines() if line and not line.startswith('-----')]
        needles += [lines[len(lines) // 2].encode(), lines[len(lines) // 3].encode(), der[400:448]]
    output = '\n'.join(ssh_lab.outputs).encode()
    assert not [needle for needle in needles if needle in output]
    # The test bed's hosts live under .build/testbed, not under these roots.
    roots = [str(ssh_lab.controller_dir), '/tmp', '/var/tmp', os.path.expanduser('~/.ansible')]
    leaks = _files_holding([root for root in roots if os.path.isdir(root)], needles, skip=(str(ssh_lab.bed.workdir),))
    assert leaks == []


def test_lab_ca_keys_stay_on_the_controller(ssh_lab, deployed):
    """Lab signing happens on the controller: each server holds its own key and its SSH host key as
    its only private keys, and no piece of either lab CA key anywhere."""
    assert deployed.rc == 0, _failures(deployed)
    needles = []
    for name in ('server-ca.key', 'client-ca.key'):
        lines = [line for line in (ssh_lab.controller_dir / 'ca' / name).read_text().splitlines() if line and not line.startswith('-----')]
        needles += [lines[len(lines) // 2].encode(), lines[len(lines) // 3].encode()]
    for host in ssh_lab.hosts:
        server_key = '/' + str(ssh_lab.server_path(host, 'tls', 'server.key').relative_to(host.root))
        keys, holding = pem_private_keys_and_needles(host.root, needles)
        assert keys == sorted(['/etc/ssh/ssh_host_ed25519_key', server_key]), (host.name, keys)
        assert holding == [], (host.name, holding)


RENEW = REPO / 'playbooks' / 'renew_cert.yml'
# The files renew_cert.yml switches in each server's lab tls directory (the old ones kept as .prev).
RENEWED_FILES = ('server.key', 'server.csr', 'server.crt', 'server-fullchain.crt', 'server.signed.crt')


def _served_serial(lab, host):
    """The serial of the certificate nginx on ``host`` serves for the FQDN (openssl s_client as a phone)."""
    phone = lab.controller_dir / 'phones' / _ma(FLEET[0]['mac'])
    hello = subprocess.run(['openssl', 's_client', '-connect', '%s:%d' % (host.address, HTTPS_PORT), '-servername', FQDN,
                            '-cert', '%s.crt' % phone, '-key', '%s.key' % phone], input='', capture_output=True, text=True,
                           timeout=30, check=False)
    return openssl('x509', '-noout', '-serial', input=hello.stdout).stdout.strip()


def _curl_loop(lab, out, stop_file):
    """The first phone resyncing from both servers in turn, bounded (3000 requests or 240 s, until ``stop_file``), one status a line."""
    phone = lab.controller_dir / 'phones' / _ma(FLEET[0]['mac'])
    requests = ' '.join(
        'code=$(curl -sS -o /dev/null -w "%%{http_code}" --max-time 5 --cacert %s --cert %s.crt --key %s.key --resolve %s:%d:%s '
        'https://%s:%d/cfg/%s.xml 2>&1 | tr -s " " _); echo "%s:$code" >> %s;'
        % (lab.controller_dir / 'ca' / 'server-ca.crt', phone, phone, FQDN, HTTPS_PORT, host.address, FQDN, HTTPS_PORT,
           _ma(FLEET[0]['mac']), host.name, out) for host in lab.hosts)
    script = ('end=$((SECONDS+240)); n=0; while [ ! -e %s ] && [ $SECONDS -lt $end ] && [ $n -lt 1500 ]; do %s n=$((n+1)); done'
              % (stop_file, requests))
    return subprocess.Popen(['bash', '-c', script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_renewal_on_both_servers_without_downtime(ssh_lab, deployed, tmp_path):
    """renew_cert.yml (signer lab, forced) on both servers behind the one FQDN while a phone keeps
    resyncing from each: every answer 200, each server serves a new certificate for a new key of its
    own, the old pair kept as .prev, and the summary names both as switched. Runs before
    test_second_run_changes_nothing, which then shows that demo.yml keeps the renewed pair."""
    assert deployed.rc == 0, _failures(deployed)
    lab = ssh_lab
    before = dict((host.name, dict((name, lab.server_path(host, 'tls', name).read_bytes()) for name in RENEWED_FILES))
                  for host in lab.hosts)
    old_serials = dict((host.name, _served_serial(lab, host)) for host in lab.hosts)
    assert all(serial.startswith('serial=') for serial in old_serials.values()), old_serials
    assert len(set(old_serials.values())) == 2, old_serials

    out, stop_file = tmp_path / 'curl-loop.txt', tmp_path / 'curl-loop.stop'
    loop = _curl_loop(lab, out, stop_file)
    try:
        result = lab.run(tmp_path, playbook=RENEW, what='renew both servers',
                         args=['-e', json.dumps({'mpp_cert_signer': 'lab', 'mpp_cert_renew_force': True})])
    finally:
        # The loop ends after its current requests; stop_process only when it does not.
        stop_file.touch()
        try:
            loop.wait(timeout=20)
        except subprocess.TimeoutExpired:
            stop_process(loop)
    assert result.rc == 0, _failures(result)
    answers = out.read_text().split()
    for host in lab.hosts:
        codes = [answer.split(':', 1)[1] for answer in answers if answer.startswith(host.name + ':')]
        assert len(codes) >= 10 and set(codes) == {'200'}, (host.name, len(codes), sorted(set(codes)))

    public_keys = {}
    for host in lab.hosts:
        tls = lab.server_path(host, 'tls')
        serial = _served_serial(lab, host)
        assert serial.startswith('serial=') and serial != old_serials[host.name], (host.name, serial)
        assert serial == openssl('x509', '-noout', '-serial', '-in', str(tls / 'server.crt')).stdout.strip()
        public_keys[host.name] = openssl('pkey', '-pubout', '-in', str(tls / 'server.key')).stdout
        assert public_keys[host.name] != openssl('pkey', '-pubout', '-in', str(tls / 'server.key.prev')).stdout
        for name in RENEWED_FILES:
            assert (tls / (name + '.prev')).read_bytes() == before[host.name][name], (host.name, name)
            assert not (tls / (name + '.next')).exists(), (host.name, name)
        assert host.run('nginx -t -q').returncode == 0
    assert len(set(public_keys.values())) == 2, 'both servers have the same new key'

    summary = dict((item['item']['item'], ' '.join(item['msg'].split()))
                   for item in result.task('Per server - old and new notAfter, switched or not, what it serves now')['results'])
    for host in lab.hosts:
        line = summary[host.name]
        assert line.startswith('%s: switched to the new certificate;' % host.name), line
        assert old_serials[host.name].split('=', 1)[1].lower() in line.lower(), line
    final = result.task('Every server renewed or safe - none refused, rolled back or about to expire')
    assert not final.get('failed'), final


def test_second_run_changes_nothing(ssh_lab, deployed, tmp_path):
    assert deployed.rc == 0, _failures(deployed)
    result = ssh_lab.run(tmp_path, what='rerun')
    assert result.rc == 0, _failures(result)
    for name in [host.name for host in ssh_lab.hosts] + ['localhost']:
        stats = result.host_stats(name)
        assert stats.get('changed') == 0 and stats.get('failures') == 0, (name, stats)


def test_dependencies_off_names_the_packages(ssh_lab, tmp_path):
    """mpp_cert_install_dependencies: false on a server without the libraries: the role stops at
    once naming the packages, and writes nothing."""
    host = ssh_lab.bed.host('bare', 'trixie')
    inventory = ssh_lab.bed.inventory(tmp_path / 'inventory.yml', [host])
    play = playbook_text(name='server certificate without dependencies', hosts='provisioning_servers',
                         roles=[{'role': 'phoneprov.mpp.server_certificate'}],
                         vars={'mpp_cert_fqdn': FQDN, 'mpp_cert_install_dependencies': False, 'mpp_cert_dir': '/etc/ssl/mpp'})
    result = ssh_lab.bed.playbook(tmp_path, play, inventory=inventory)
    assert result.rc != 0
    message = ' '.join(result.on(host.name, 'Require the Python libraries when the role does not install them')['msg'].split())
    assert 'python3-cryptography and python3-dnspython' in message and '/usr/bin/python3' in message, message
    assert not host.path('/etc/ssl/mpp').exists()


def _second_site_vars(lab, host, second):
    return {
        'mpp_cert_fqdn': SECOND_FQDN, 'mpp_cert_signer': 'lab', 'mpp_cert_dir': '/etc/ssl/second',
        'mpp_cert_lab_ca_dir': str(second / 'ca'), 'mpp_cert_csr_controller_dir': str(second / 'csr'),
        'mpp_cert_verify_dns': False,
        'mpp_server_fqdn': SECOND_FQDN, 'mpp_server_site_name': 'second-site',
        'mpp_server_listen_address': host.address, 'mpp_server_port': HTTPS_PORT + 1,
        'mpp_server_cert_path': '/etc/ssl/second/server-fullchain.crt', 'mpp_server_key_path': '/etc/ssl/second/server.key',
        'mpp_server_client_ca': '/etc/ssl/second/client-ca.pem',
        'mpp_server_client_ca_src': [str(second / 'ca' / 'client-ca.crt')],
        'mpp_server_docroot': '/srv/second/profiles', 'mpp_server_shared_dir': '/srv/second/shared',
        'mpp_server_access_log': '/var/log/nginx/second-access.log', 'mpp_server_error_log': '/var/log/nginx/second-error.log',
    }


def test_client_root_files_must_be_pem(ssh_lab, deployed, tmp_path):
    """A file of mpp_server_client_ca_src that holds no PEM certificate stops the role naming it;
    the server's bundle and nginx configuration stay as they were."""
    assert deployed.rc == 0, _failures(deployed)
    host = ssh_lab.hosts[1]
    good = ssh_lab.controller_dir / 'ca' / 'client-ca.crt'
    der = tmp_path / 'cisco-root.der'
    der.write_bytes(subprocess.run(['openssl', 'x509', '-in', str(good), '-outform', 'DER'], capture_output=True, check=True).stdout)
    bundle = ssh_lab.server_path(host, 'tls', 'client-ca.pem')
    before = bundle.read_bytes()
    result = ssh_lab.run(tmp_path, playbook=REPO / 'playbooks' / 'provisioning_server.yml', what='bad client root',
                         args=['--limit', host.name, '-e', json.dumps({'mpp_server_client_ca_src': [str(good), str(der)]})])
    assert result.rc != 0
    checked = result.on(host.name, 'Check that each file holds PEM certificates and no other PEM block')['results']
    failed = [' '.join(item['msg'].split()) for item in checked if item.get('failed')]
    assert len(failed) == 1 and 'file %s on the controller holds no PEM certificate' % der in failed[0], checked
    assert bundle.read_bytes() == before
    assert 'Write the site configuration (validated with nginx -t first)' not in [name for name, _host, _msg in result.failures()]


def test_two_sites_side_by_side_each_removable(ssh_lab, deployed, tmp_path):
    """A second site of the role on prov1: another FQDN, port and client root (a second lab CA on the
    controller). Both serve their own phones; each is removed on its own, the other keeps serving."""
    assert deployed.rc == 0, _failures(deployed)
    lab = ssh_lab
    host = lab.hosts[0]
    second = tmp_path / 'second'
    phone = {'mac': '00562b0499aa', 'model': 'CP-8851-3PCC', 'serial': 'FCH2101B001'}
    site_vars = _second_site_vars(lab, host, second)
    inventory = lab.bed.inventory(tmp_path / 'inventory.yml', [host])
    setup = playbook_text([
        {'name': 'Second lab CA and one phone of it', 'phoneprov.mpp.lab_ca': {
            'path': str(second / 'ca'), 'clients': [phone], 'client_dir': str(second / 'phones')}},
    ], name='controller', hosts='localhost', vars={'ansible_become': False}, pre_tasks=[
        {'name': 'Phone directory', 'ansible.builtin.file': {'path': str(second / 'phones'), 'state': 'directory', 'mode': '0700'}}])
    deploy = playbook_text(name='second site', hosts='provisioning_servers', vars=site_vars, roles=[
        {'role': 'phoneprov.mpp.server_certificate'}, {'role': 'phoneprov.mpp.provisioning_server'}])
    result = lab.bed.playbook(tmp_path, setup + deploy, inventory=inventory)
    assert result.rc == 0, _failures(result)
    host.path('/srv/second/profiles/%s.xml' % phone['mac']).write_text('<flat-profile><Display_Name_1_>second</Display_Name_1_></flat-profile>\n')
    second_ca = second / 'ca' / 'server-ca.crt'

    def second_site(mac=phone['mac'], cert_dir=second / 'phones'):
        return lab.curl(host, mac, port=HTTPS_PORT + 1, ca=second_ca, cert_dir=cert_dir, fqdn=SECOND_FQDN)

    assert second_site() == (200, host.path('/srv/second/profiles/%s.xml' % phone['mac']).read_text())
    assert lab.curl(host, FLEET[0]['mac'])[0] == 200
    # Each site trusts only its own client root.
    assert second_site(FLEET[0]['mac'], lab.controller_dir / 'phones')[0] == 400
    assert lab.curl(host, phone['mac'], cert_dir=second / 'phones')[0] == 400

    # Remove the second site: the lab's site keeps serving.
    remove = playbook_text(name='remove second site', hosts='provisioning_servers',
                           vars=dict(site_vars, mpp_server_state='absent'), roles=[{'role': 'phoneprov.mpp.provisioning_server'}])
    removed = lab.bed.playbook(tmp_path, remove, inventory=inventory)
    assert removed.rc == 0, _failures(removed)
    assert second_site()[0] == 0
    assert lab.curl(host, FLEET[0]['mac'])[0] == 200
    assert not host.path('/etc/nginx/sites-available/second-site.conf').exists()

    # Back, then the lab's own site removed: the second one keeps serving.
    assert lab.bed.playbook(tmp_path, deploy, inventory=inventory).rc == 0
    assert second_site()[0] == 200
    lab_site = lab.run(tmp_path, playbook=REPO / 'playbooks' / 'provisioning_server.yml', what='remove the lab site',
                       args=['--limit', host.name, '-e', 'mpp_server_state=absent'])
    assert lab_site.rc == 0, _failures(lab_site)
    assert lab.curl(host, FLEET[0]['mac'])[0] == 0
    assert second_site()[0] == 200
    again = lab.bed.playbook(tmp_path, remove, inventory=inventory)
    assert again.rc == 0, _failures(again)
    assert host.run('ls /etc/nginx/conf.d/').stdout.strip() == ''
