# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Smoke tests of the test bed (testbed.py): real Debian 12 and 13 hosts reached over SSH as deploy.

Judges: ansible-playbook from the project's venv over plain SSH with become, the hosts' own
/usr/bin/python3, the chroot's file system seen from the controller, /proc/mounts and /proc/*/root.
"""

from __future__ import annotations

import os
import uuid

import pytest

from testbed import TestBed, mounts_under, pids_rooted_in, pids_with_argument, testbed, testbed_hosts

__all__ = ['testbed', 'testbed_hosts']

SMOKE = '''
- name: Smoke test of the managed hosts
  hosts: provisioning_servers
  gather_facts: false
  tasks:
    - name: Ping
      ansible.builtin.ping:

    - name: Uid under become
      ansible.builtin.command: id -u
      changed_when: false
      register: uid_become

    - name: Uid without become
      ansible.builtin.command: id -u
      changed_when: false
      vars:
        # The inventory's ansible_become outranks the become keyword; a task variable outranks it.
        ansible_become: false

    - name: Facts of the managed Python
      ansible.builtin.setup:
        gather_subset: [min]

    - name: Write a file as root
      ansible.builtin.copy:
        dest: "{{ marker }}"
        content: "written by become on {{ inventory_hostname }}\\n"
        mode: "0600"
'''


def test_smoke_over_ssh_with_become(testbed, testbed_hosts, tmp_path):
    marker = '/root/testbed-marker-%s' % uuid.uuid4().hex
    result = testbed.playbook(tmp_path, SMOKE, args=['-e', 'marker=%s' % marker])
    assert result.rc == 0, (result.failures(), result.stderr[-2000:])
    for host in testbed_hosts:
        stats = result.host_stats(host.name)
        assert stats.get('failures') == 0 and stats.get('unreachable') == 0, stats
        assert result.on(host.name, 'Ping')['ping'] == 'pong'
        assert result.on(host.name, 'Uid under become')['stdout'] == '0'
        assert result.on(host.name, 'Uid without become')['stdout'] not in ('', '0')
        python = result.on(host.name, 'Facts of the managed Python')['ansible_facts']['ansible_python']
        assert python['executable'] == '/usr/bin/python3'
        assert '%d.%d' % tuple(python['version_info'][:2]) == host.run('python3 -c "import sys; print(\'%d.%d\' % sys.version_info[:2])"').stdout.strip()
        hostname = result.on(host.name, 'Facts of the managed Python')['ansible_facts']['ansible_hostname']
        assert hostname == host.name
        written = host.path(marker)
        assert written.read_text() == 'written by become on %s\n' % host.name
        assert written.stat().st_uid == 0 and oct(written.stat().st_mode & 0o777) == '0o600'
        written.unlink()
    assert not os.path.exists(marker), 'become wrote on the controller'


def test_hosts_are_the_releases_asked_for(testbed_hosts):
    for host, version in zip(testbed_hosts, ('12', '13')):
        assert host.run('. /etc/os-release && echo $VERSION_ID').stdout.strip() == version
        assert host.run('cat /usr/sbin/policy-rc.d').stdout.strip().endswith('exit 101')
        assert host.run('test -x /usr/bin/python3 && ! test -e /usr/bin/pip3', check=False).returncode == 0
        assert host.address.startswith('127.0.0.') and host.address != '127.0.0.1'
    assert len(set(host.address for host in testbed_hosts)) == len(testbed_hosts)


def test_host_key_checking_is_pinned(testbed, testbed_hosts, tmp_path):
    """A host whose key is not the pinned one is unreachable: checking is on, not turned off."""
    host = testbed_hosts[0]
    wrong = tmp_path / 'known_hosts'
    other = testbed_hosts[1]
    wrong.write_text('[%s]:%d %s\n' % (host.address, host.port, other.host_key))
    inventory = testbed.inventory(tmp_path / 'inventory.yml', [host], group_vars={
        'ansible_ssh_common_args': '-o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes' % wrong})
    # A fresh control socket: a master from an earlier test would skip the key exchange.
    fresh = {'ANSIBLE_SSH_CONTROL_PATH_DIR': str(testbed.control_path_dir / 'pinned')}
    result = testbed.playbook(tmp_path, SMOKE, inventory=inventory, env=fresh, args=['-e', 'marker=/root/never'])
    assert result.host_stats(host.name).get('unreachable') == 1, result.data.get('stats')
    assert 'HOST IDENTIFICATION HAS CHANGED' in result.stdout + result.stderr or 'Host key verification failed' in result.stdout + result.stderr
    assert not host.path('/root/never').exists()


def running(host, command):
    """Pids of ``command`` running inside ``host`` (the minimal hosts have no pgrep)."""
    found = []
    for pid in pids_rooted_in(host.root):
        with open('/proc/%d/comm' % pid) as comm:
            if comm.read().strip() == command:
                found.append(pid)
    return found


START_CRON = '''
- name: Start a daemon the way the roles start nginx
  hosts: provisioning_servers
  gather_facts: false
  tasks:
    - name: Start cron
      ansible.builtin.service:
        name: cron
        state: started
        enabled: true
'''


def test_teardown_leaves_nothing(tmp_path):
    """A throwaway bed, one host of each release: apt installs a package with a daemon (policy-rc.d
    keeps it stopped), ansible.builtin.service starts it over SSH as the roles start nginx, then
    teardown; no mount, no process, no directory and no SSH master remains. Its hosts, not the
    session's, use apt: the session's stay as fresh as a new server."""
    bed = TestBed(first_address=40)
    hosts = [bed.host('teardown12', 'bookworm'), bed.host('teardown13', 'trixie')]
    roots = [str(host.root) for host in hosts]
    for host in hosts:
        # A fresh host has no package lists: apt-get update reaches the mirror first.
        host.run('apt-get update -qq && apt-get install -y -qq --no-install-recommends cron >/dev/null')
        assert 'Inst nginx ' in host.run('apt-get install -s -y nginx python3-cryptography python3-dnspython').stdout
        assert not running(host, 'cron'), 'policy-rc.d let the install start cron'
        assert len(mounts_under(host.root)) == 7
    result = bed.playbook(tmp_path, START_CRON)
    assert result.rc == 0, result.failures()
    for host in hosts:
        assert result.on(host.name, 'Start cron')['changed'] is True
        assert running(host, 'cron')
    assert bed.teardown() == []
    for root in roots:
        assert mounts_under(root) == []
        assert pids_rooted_in(root) == []
        assert not os.path.exists(root)
    assert pids_with_argument(str(bed.workdir)) == []
    assert not bed.workdir.exists()
    with open('/proc/mounts') as mounts:
        assert str(bed.workdir) not in mounts.read()


@pytest.mark.parametrize('release', ['bookworm', 'trixie'])
def test_bring_up_from_cache_is_fast(testbed, testbed_hosts, release):
    """Bring-up from the cached tarball (unpack, mounts, host key, sshd) takes seconds."""
    host = next(host for host in testbed_hosts if host.release == release)
    assert host.timings['unpack'] + host.timings['boot'] < 20, host.timings
