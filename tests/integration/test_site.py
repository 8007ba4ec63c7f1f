# -*- coding: utf-8 -*-
"""site.yml end to end on the lab example, through ansible-playbook and through ansible-runner.

The lab (examples/lab) runs here exactly as ``make demo`` runs it, with only its state directory,
ports and nginx site name moved aside: dnsmasq on loopback answers for the server FQDN, the lab
CA signs the server certificate and mints the phones' client certificates, the system nginx
serves the profiles, and phone_check resyncs every phone of the fleet. Judges: real curl with a
phone's client certificate against the real nginx, the real dnsmasq, ansible-runner's own
status. Also the scale-out rule at the inventory level: two servers behind one FQDN, the phone's
DNS check catching the one whose address DNS lacks.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from mpp_harness import BIN, REPO, ansible_env, free_port, import_playbook_text, read_pid, run_playbook, stop_process
from provisioning_server_helpers import remove_site, stop_system_nginx, system_nginx_lock

LAB = REPO / 'examples' / 'lab'
DEMO = LAB / 'demo.yml'
SITE = REPO / 'playbooks' / 'site.yml'
FLEET = yaml.safe_load((LAB / 'group_vars' / 'all' / 'fleet.yml').read_text())['mpp_phones']
FQDN = 'prov.mpp.test'
SITE_NAME = 'phoneprov-mpp-sitetest'


def _ma(mac):
    return ''.join(c for c in mac.lower() if c in '0123456789abcdef')


class Lab(object):
    """Lab overrides for one test module: state dir (world-traversable: nginx workers read the
    profiles), free ports, own nginx site name."""

    def __init__(self, root):
        self.dir = Path(root)
        self.https_port = free_port()
        self.dns_port = free_port()
        self.vars = {
            'mpp_lab_dir': str(self.dir),
            'mpp_lab_https_port': self.https_port,
            'mpp_lab_dns_port': self.dns_port,
            'mpp_server_site_name': SITE_NAME,
            'ansible_python_interpreter': str(BIN / 'python'),
        }

    def run(self, workdir, playbook=DEMO, extra_vars=None, inventory=LAB / 'inventory.yml', **kwargs):
        variables = dict(self.vars)
        variables.update(extra_vars or {})
        return run_playbook(workdir, playbook, extra_vars=variables, args=('-i', str(inventory)), **kwargs)

    def host_dir(self, host='localhost'):
        return self.dir / host

    def phone_files(self, mac):
        base = self.dir / 'phones' / _ma(mac)
        return str(base) + '.crt', str(base) + '.key'

    def curl(self, path, mac=None, address='127.0.0.1'):
        """Real curl as a phone: the lab server CA as the only trust, the phone's own client cert."""
        cmd = ['curl', '-sS', '-o', '-', '-w', '\n%{http_code}', '--max-time', '10',
               '--resolve', '%s:%d:%s' % (FQDN, self.https_port, address),
               '--cacert', str(self.dir / 'ca' / 'server-ca.crt')]
        if mac:
            cert, key = self.phone_files(mac)
            cmd += ['--cert', cert, '--key', key]
        cmd.append('https://%s:%d%s' % (FQDN, self.https_port, path))
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
        body, _sep, status = proc.stdout.rpartition('\n')
        return int(status or 0), body

    def stop_dnsmasq(self):
        """Stop the lab's dnsmasq (a daemon of the lab play) by the pid it wrote."""
        stop_process(read_pid(self.dir / 'dnsmasq' / 'dnsmasq.pid'))

    def profiles(self, host='localhost'):
        return sorted(Path(p).name for p in glob.glob(str(self.host_dir(host) / 'profiles' / '*.xml')))


def _snapshot(root):
    """(path -> (size, mtime_ns)) of every file under root: what a run changed on disk."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            if name.startswith('dnsmasq.log') or name.endswith('.log'):
                continue
            stat = os.stat(path)
            out[path] = (stat.st_size, stat.st_mtime_ns)
    return out


@pytest.fixture(scope='module')
def lab():
    root = tempfile.mkdtemp(prefix='mpp-site-', dir='/tmp')
    os.chmod(root, 0o755)
    shutil.rmtree(root)  # the lab play creates it: a run from nothing
    lab = Lab(root)
    with system_nginx_lock():
        try:
            yield lab
        finally:
            lab.stop_dnsmasq()
            stop_system_nginx()
            remove_site(SITE_NAME)
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope='module')
def deployed(lab, tmp_path_factory):
    """The lab after one full `make demo` run (the first run's PlaybookResult)."""
    return lab.run(tmp_path_factory.mktemp('demo-first'))


def _all_stats(result):
    return (result.data or {}).get('stats', {})


def _output(result):
    return '%s\n%s' % (json.dumps(result.data, indent=1)[-8000:] if result.data else result.stdout[-8000:],
                       result.stderr[-3000:])


def test_check_mode_from_nothing_writes_nothing(lab, tmp_path):
    """`make demo` with --check --diff on a machine where nothing exists yet, certificate stage:
    it reports the key, CSR and certificate it would make, and writes nothing (not even the lab)."""
    result = lab.run(tmp_path, check=True, diff=True, tags='cert')
    assert result.rc == 0, _output(result)
    assert result.changed > 0
    assert 'Create or keep the server private key' in [name for name, res in result.tasks if res.get('changed')]
    assert not lab.dir.exists() or not any(lab.dir.rglob('*')), sorted(str(p) for p in lab.dir.rglob('*'))


def test_whole_site_check_mode_from_nothing(lab, tmp_path):
    """Every stage in --check from nothing: the server stage waits for the TLS files the certificate
    stage would create, the push reports every phone as created, the run succeeds and writes nothing."""
    result = lab.run(tmp_path, check=True, diff=True)
    assert result.rc == 0, _output(result)
    profiles = result.task('Publish one profile per phone')
    assert len(profiles['created']) == 5, _output(result)
    assert 'waits for TLS files' in ' '.join(name for name, _res in result.tasks)
    assert not lab.dir.exists() or not any(lab.dir.rglob('*')), sorted(str(p) for p in lab.dir.rglob('*'))


def test_demo_end_to_end(lab, deployed):
    result = deployed
    assert result.rc == 0 and result.failed == 0, _output(result)
    assert result.changed > 0
    # Every phone of the fleet has its profile on the server and reads it like a phone: 200.
    assert lab.profiles() == sorted('%s.xml' % _ma(p['mac']) for p in FLEET)
    for phone in FLEET:
        status, body = lab.curl('/cfg/%s.xml' % _ma(phone['mac']), mac=phone['mac'])
        assert status == 200, (phone['mac'], status, body)
        assert '<flat-profile' in body and phone['lines'][0]['user_id'] in body
    # ... and nobody else's: another phone's file is 403, no client certificate is refused.
    first, second = FLEET[0]['mac'], FLEET[1]['mac']
    assert lab.curl('/cfg/%s.xml' % _ma(first), mac=second)[0] == 403
    assert lab.curl('/cfg/%s.xml' % _ma(first))[0] in (0, 400, 403)
    # The demo ends printing each phone's emulated resync: behaviour A for every phone.
    summary = result.task('Emulated resync of each phone')
    lines = summary['msg'] if isinstance(summary['msg'], list) else [summary['msg']]
    text = '\n'.join(lines)
    for phone in FLEET:
        assert '%s: A - ' % _ma(phone['mac']) in text, text
    assert 'next try after Resync_Periodic' in text


def test_second_run_changes_nothing(lab, deployed, tmp_path):
    before = _snapshot(lab.dir)
    result = lab.run(tmp_path)
    assert result.rc == 0 and result.failed == 0, _output(result)
    changed = [name for name, res in result.tasks if res.get('changed')]
    assert result.changed == 0, changed
    assert _snapshot(lab.dir) == before


def test_check_diff_shows_one_changed_phone(lab, deployed, tmp_path):
    """A merge request changing one phone's line: --check --diff names that phone, writes nothing."""
    fleet = json.loads(json.dumps(FLEET))
    fleet[2]['lines'][0]['display_name'] = 'Support desk'
    before = _snapshot(lab.dir)
    result = lab.run(tmp_path, extra_vars={'mpp_phones': fleet}, check=True, diff=True)
    assert result.rc == 0, _output(result)
    changed = [(name, res) for name, res in result.tasks if res.get('changed')]
    assert changed, 'check mode reported no change for a changed phone'
    dump = json.dumps([res for _name, res in changed])
    assert _ma(fleet[2]['mac']) in dump and 'Support desk' in dump
    # The diff a reviewer sees in a merge request never shows the SIP password of the profile.
    assert fleet[2]['lines'][0]['password'] not in result.stdout
    for other in (fleet[0], fleet[1], fleet[3]):
        assert _ma(other['mac']) not in json.dumps([res.get('updated', []) for _n, res in changed])
    assert _snapshot(lab.dir) == before


def test_tags_run_one_stage(lab, deployed, tmp_path):
    result = lab.run(tmp_path, playbook=SITE, tags='verify')
    assert result.rc == 0, _output(result)
    names = set(name for name, _res in result.tasks if not name.startswith('Validating arguments against arg spec'))
    assert names == {'Check the settings of the verify stage', 'Resync like the phones (phone_check, fleet mode)',
                     'How many phones got A, B and C, and why', 'Every phone behaves as expected',
                     'What this run left on each provisioning server', 'Emulated resync of each phone',
                     'Days left on the certificate the server serves (fetched live)',
                     'The certificate the server serves has enough days left'}, names
    assert result.changed == 0


def _runner_private_dir(lab, root):
    """An ansible-runner private data dir laid out as AWX lays it: project, inventory, env."""
    pdd = Path(root)
    project = pdd / 'project'
    # The project is the inventory repository: the lab's files and a playbook importing the
    # collection's playbooks by FQCN (the collection comes from ANSIBLE_COLLECTIONS_PATH, in
    # AWX from the execution environment).
    shutil.copytree(LAB, project, ignore=shutil.ignore_patterns('inventory.yml', 'group_vars'))
    (project / 'site.yml').write_text(import_playbook_text([('Lab services', 'lab_services.yml'),
                                                            ('The whole job', 'phoneprov.mpp.site')]))
    (pdd / 'inventory').mkdir()
    shutil.copy(LAB / 'inventory.yml', pdd / 'inventory' / 'hosts.yml')
    shutil.copytree(LAB / 'group_vars', pdd / 'inventory' / 'group_vars')
    (pdd / 'env').mkdir()
    env = ansible_env()
    (pdd / 'env' / 'envvars').write_text(yaml.safe_dump({
        'ANSIBLE_COLLECTIONS_PATH': env['ANSIBLE_COLLECTIONS_PATH'],
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_LOCALHOST_WARNING': 'false',
        'PATH': env['PATH'],
    }))
    (pdd / 'env' / 'extravars').write_text(yaml.safe_dump(dict(lab.vars)))
    (pdd / 'env' / 'settings').write_text(yaml.safe_dump({'job_timeout': 900, 'suppress_ansible_output': True}))
    return pdd


def test_site_through_ansible_runner(lab, deployed, tmp_path):
    """The engine of AWX/AAP: ansible-runner run <private data dir> -p site.yml."""
    runner = BIN / 'ansible-runner'
    if not runner.exists():
        pytest.skip('ansible-runner is not installed in the venv (requirements-dev.txt lists it)')
    pdd = _runner_private_dir(lab, tmp_path / 'pdd')
    env = dict(os.environ, PATH='%s:%s' % (BIN, os.environ.get('PATH', '/usr/bin:/bin')))
    env.pop('ANSIBLE_CONFIG', None)
    proc = subprocess.run([str(runner), 'run', str(pdd), '-p', 'site.yml', '--ident', 'site1'],
                          capture_output=True, text=True, timeout=900, env=env, check=False)
    artifacts = pdd / 'artifacts' / 'site1'
    stdout = (artifacts / 'stdout').read_text() if (artifacts / 'stdout').exists() else proc.stdout
    assert proc.returncode == 0, stdout[-6000:] + proc.stderr[-2000:]
    assert (artifacts / 'status').read_text().strip() == 'successful'
    assert (artifacts / 'rc').read_text().strip() == '0'
    stats = None
    for path in sorted((artifacts / 'job_events').glob('*.json')):
        event = json.loads(path.read_text())
        if event.get('event') == 'playbook_on_stats':
            stats = event['event_data']
    assert stats is not None, 'no playbook_on_stats event in the runner artifacts'
    # The lab already stood from the earlier tests: through the runner, nothing changes either.
    assert stats.get('changed', {}) == {}, (stats, stdout[-6000:])
    assert stats.get('ok', {}).get('localhost', 0) > 0
    assert 'Emulated resync of each phone' in stdout


SCALE_INVENTORY = """\
all:
  children:
    provisioning_servers:
      hosts:
        prov-a: {ansible_connection: local, mpp_server_address: 127.0.0.1}
        prov-b: {ansible_connection: local, mpp_server_address: 127.0.0.2}
"""


def test_scale_out_missing_address_is_caught(tmp_path):
    """Two servers behind one FQDN (127.0.0.1 and 127.0.0.2 on loopback): the phone's DNS check
    in the cert stage passes with both addresses in DNS and fails the server whose address is
    missing, naming it, while the other server passes."""
    root = tempfile.mkdtemp(prefix='mpp-scale-', dir='/tmp')
    scale = Lab(root)
    inventory_dir = tmp_path / 'inventory'
    inventory_dir.mkdir()
    (inventory_dir / 'hosts.yml').write_text(SCALE_INVENTORY)
    shutil.copytree(LAB / 'group_vars', inventory_dir / 'group_vars')
    try:
        both = scale.run(tmp_path / 'both', inventory=inventory_dir / 'hosts.yml', tags='cert')
        stats = _all_stats(both)
        assert both.rc == 0, _output(both)
        assert stats['prov-a']['failures'] == 0 and stats['prov-b']['failures'] == 0, stats
        # The lab DNS was built from the inventory: both addresses under the one name.
        assert (scale.dir / 'dnsmasq' / 'hosts').read_text().count(FQDN) == 2

        missing = scale.run(tmp_path / 'missing', inventory=inventory_dir / 'hosts.yml', tags='cert',
                            extra_vars={'mpp_lab_dns_records': {FQDN: ['127.0.0.1']}})
        stats = _all_stats(missing)
        assert missing.rc != 0
        assert stats['prov-a']['failures'] == 0, stats
        assert stats['prov-b']['failures'] == 1, stats
        failed = [res for play in missing.data['plays'] for task in play['tasks']
                  for host, res in task['hosts'].items() if host == 'prov-b' and res.get('failed')]
        assert failed, _output(missing)
        assert '127.0.0.2' in json.dumps(failed[-1].get('missing_addresses', [])) and '127.0.0.2' in failed[-1]['msg'], failed[-1]
    finally:
        scale.stop_dnsmasq()
        shutil.rmtree(root, ignore_errors=True)


def test_cisco_signer_without_certificate_stops_at_the_csr(tmp_path):
    """Production's first run: signer cisco, nothing signed yet. The cert stage fails the host with
    the CSR to submit named, the CSR is on the controller, and no later stage runs on that host."""
    root = tempfile.mkdtemp(prefix='mpp-cisco-', dir='/tmp')
    cisco = Lab(root)
    try:
        result = cisco.run(tmp_path, playbook=SITE, extra_vars={'mpp_cert_signer': 'cisco'})
        assert result.rc != 0
        csr = Path(root) / 'csr' / 'localhost' / ('%s.csr' % FQDN)
        assert csr.is_file()
        failed = [(name, res) for name, res in result.tasks if res.get('failed')]
        assert len(failed) == 1, failed
        assert 'Submit the CSR %s' % csr in ' '.join(failed[0][1]['msg'].split()), failed[0][1]['msg']
        ran = [name for name, _res in result.tasks]
        assert 'Publish one profile per phone' not in ran and 'Resync like the phones (phone_check, fleet mode)' not in ran
        assert not any(name.startswith('Write the site configuration') for name in ran), ran
        assert not (Path(root) / 'localhost' / 'tls' / 'server.crt').exists()
    finally:
        shutil.rmtree(root, ignore_errors=True)
