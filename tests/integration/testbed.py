# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A test bed of real managed hosts: fresh Debian root file systems entered with chroot, reached over SSH.

Each release's root file system is made once with ``mmdebstrap`` (variant apt plus openssh-server,
sudo and python3) and cached as a tarball under ``.build/testbed/``, keyed on everything that goes
into it, so a change of the recipe rebuilds it. Each host is a fresh copy of that tarball in a tmpfs of its own, with
/proc, /sys, /dev, /dev/pts, /dev/shm and /run mounted, its own host key, its own ``sshd`` on its
own loopback address (127.0.0.21, 127.0.0.22, ...) and a high port, and a user ``deploy`` with
passwordless sudo who logs in with a key this harness makes. No network namespace: every service
of a host binds its own loopback address. sshd runs in a UTS namespace of its own only so that the
host's hostname is its inventory name (sudo and ansible_hostname read it).

Teardown stops what the harness started by pid (sshd, then every process whose root is inside the
host), unmounts what it mounted in reverse order, checks /proc/mounts and /proc/*/root are clean,
and only then removes the host's directory. It runs from the fixture's finalizer, so also when a
test fails, and from an atexit and SIGTERM/SIGHUP safety net; a run killed outright is reclaimed
by the next one. See TESTBED.md.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from mpp_harness import BIN, PlaybookResult, ansible_env, stop_process, wait_for_port

REPO = Path(__file__).resolve().parents[2]
# MPP_TESTBED_CACHE moves the cache out of the work tree (e.g. to keep it across fresh clones).
CACHE = Path(os.environ.get('MPP_TESTBED_CACHE') or REPO / '.build' / 'testbed')
MMDEBSTRAP = shutil.which('mmdebstrap') or '/usr/bin/mmdebstrap'
MIRROR = 'http://deb.debian.org/debian'
SECURITY_MIRROR = 'http://deb.debian.org/debian-security'
RELEASES = {'bookworm': '12', 'trixie': '13'}
PACKAGES = ('openssh-server', 'sudo', 'python3')
VARIANT = 'apt'
USER = 'deploy'
PYTHON = '/usr/bin/python3'
FIRST_ADDRESS = 21
ROOT_SIZE = '2g'  # a ceiling, not an allocation: the minimal host uses ~200 MB
# Changing anything a build hook does must change the cache key: bump this with it.
RECIPE_VERSION = 1
CHROOT_ENV = {'PATH': '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'LANG': 'C.UTF-8',
              'HOME': '/root', 'DEBIAN_FRONTEND': 'noninteractive'}
# Keeps package installs (nginx, dnsmasq) from starting services: the harness has no init system.
POLICY_RC_D = '#!/bin/sh\n# testbed: no service starts from package installs\nexit 101\n'
SSHD_CONFIG = '''# testbed: this host's own sshd, on its own loopback address
ListenAddress {address}:{port}
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile /run/sshd.pid
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
AllowUsers {user}
'''


def skip_reason():
    """Why the test bed cannot run here, or None."""
    if os.geteuid() != 0:
        return 'the test bed needs root (chroot, mount)'
    if not os.access(MMDEBSTRAP, os.X_OK):
        return 'the test bed needs mmdebstrap (make testbed-packages installs it)'
    if not shutil.which('ssh') or not shutil.which('ssh-keygen'):
        return 'the test bed needs the OpenSSH client (ssh, ssh-keygen) on the controller'
    return None


def require_testbed():
    """Skip the calling test when the test bed cannot run; in CI that is a failure, not a skip."""
    reason = skip_reason()
    if reason is None:
        return
    if os.environ.get('CI') == 'true':
        pytest.fail('CI must run the test bed: %s' % reason)
    pytest.skip(reason)


# --- the cached root file systems -------------------------------------------------------------

def apt_sources(release):
    """The sources a fresh Debian server of ``release`` has: the release, its updates and security."""
    return ['deb %s %s main' % (MIRROR, release),
            'deb %s %s-updates main' % (MIRROR, release),
            'deb %s %s-security main' % (SECURITY_MIRROR, release)]


def build_command(release, output):
    """The mmdebstrap command line that makes the cached tarball of ``release``."""
    hooks = [
        # Host keys are made per host at bring-up: two hosts must not share one.
        'rm -f "$1"/etc/ssh/ssh_host_*',
        'chroot "$1" useradd --create-home --shell /bin/bash %s' % USER,
        'echo "%s ALL=(ALL:ALL) NOPASSWD: ALL" > "$1"/etc/sudoers.d/%s && chmod 0440 "$1"/etc/sudoers.d/%s' % (USER, USER, USER),
    ]
    cmd = [MMDEBSTRAP, '--quiet', '--variant=%s' % VARIANT, '--include=%s' % ','.join(PACKAGES),
           # Languages none: apt-get update inside a host fetches no translations (faster).
           '--aptopt=Acquire::Languages "none"',
           '--dpkgopt=path-exclude=/usr/share/man/*', '--dpkgopt=path-exclude=/usr/share/locale/*',
           '--dpkgopt=path-exclude=/usr/share/doc/*', '--dpkgopt=path-include=/usr/share/doc/*/copyright']
    cmd += ['--customize-hook=%s' % hook for hook in hooks]
    cmd += [release, str(output)] + apt_sources(release)
    return cmd


def rootfs_tarball(release):
    """The cached tarball of ``release``, built first if its recipe changed or it is missing."""
    if release not in RELEASES:
        raise ValueError('unknown release %r (known: %s)' % (release, ', '.join(RELEASES)))
    recipe = json.dumps({'version': RECIPE_VERSION, 'cmd': build_command(release, 'OUT')[1:]}, sort_keys=True)
    key = hashlib.sha256(recipe.encode()).hexdigest()[:12]
    tarball = CACHE / ('debian-%s-%s.tar' % (release, key))
    if tarball.exists():
        return tarball
    CACHE.mkdir(parents=True, exist_ok=True)
    # One build at a time, also across pytest processes; the tarball appears whole or not at all.
    with open(CACHE / '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if tarball.exists():
            return tarball
        partial = tarball.with_suffix('.partial.tar')
        start = time.monotonic()
        proc = subprocess.run(build_command(release, partial), capture_output=True, text=True, timeout=1800, check=False)
        if proc.returncode != 0:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
            raise RuntimeError('mmdebstrap %s failed (rc=%d):\n%s' % (release, proc.returncode, proc.stderr[-4000:]))
        partial.rename(tarball)
        (CACHE / ('debian-%s-%s.recipe.json' % (release, key))).write_text(recipe + '\n')
        (CACHE / ('debian-%s-%s.build-seconds' % (release, key))).write_text('%.1f\n' % (time.monotonic() - start))
        for old in CACHE.glob('debian-%s-*' % release):
            if key not in old.name:
                old.unlink()
    return tarball


# --- processes and mounts ---------------------------------------------------------------------

def _inside(path, root):
    return path == root or path.startswith(root + '/')


def mounts_under(root):
    """Mount points at or below ``root``, in /proc/mounts order."""
    root = os.path.realpath(root)
    found = []
    with open('/proc/mounts') as mounts:
        for line in mounts:
            target = line.split()[1].replace('\\040', ' ')
            if _inside(target, root):
                found.append(target)
    return found


def pids_rooted_in(root):
    """Pids of processes whose root directory (chroot) is at or below ``root``."""
    root = os.path.realpath(root)
    pids = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            if _inside(os.readlink('/proc/%s/root' % entry), root):
                pids.append(int(entry))
        except OSError:
            continue
    return pids


def pids_with_argument(text):
    """Pids of processes that have ``text`` in their command line (the SSH control masters)."""
    pids = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open('/proc/%s/cmdline' % entry, 'rb') as cmdline:
                if text.encode() in cmdline.read():
                    pids.append(int(entry))
        except OSError:
            continue
    return pids


def stop_pids(find, timeout=5.0):
    """SIGTERM every pid ``find()`` returns, then SIGKILL what is left; the pids still alive after.

    Not mpp_harness.stop_process: the set is found again on every pass (a process may fork while
    it is stopped), signalled all at once, and what survives is returned rather than raised, so
    that teardown goes on to unmount and reports it.
    """
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, timeout)):
        pids = find()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while pids and time.monotonic() < deadline:
            time.sleep(0.05)
            pids = find()
        if not pids:
            return []
    return find()


def _mount(args, target):
    subprocess.run(['mount'] + list(args) + [str(target)], check=True, capture_output=True, text=True)


def _umount(target):
    proc = subprocess.run(['umount', str(target)], capture_output=True, text=True, check=False)
    return proc.returncode == 0


def free_port_on(address):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
        tcp.bind((address, 0))
        return tcp.getsockname()[1]


# --- one managed host -------------------------------------------------------------------------

class ManagedHost(object):
    """One fresh Debian server: a chroot with its own sshd on its own loopback address."""

    python = PYTHON
    user = USER

    def __init__(self, name, release, address, root, authorized_key):
        self.name = name
        self.release = release
        self.version = RELEASES[release]
        self.address = address
        self.port = free_port_on(address)
        self.root = Path(root)
        self.mounted = []
        self.sshd = None
        self.host_key = None
        self.sshd_log = self.root.parent / ('%s-sshd.log' % name)
        self.timings = {}
        self._authorized_key = authorized_key

    def start(self):
        start = time.monotonic()
        tarball = rootfs_tarball(self.release)
        self.timings['rootfs'] = time.monotonic() - start
        start = time.monotonic()
        self.root.mkdir(parents=True)
        # The root is a tmpfs: unpacking to memory takes a fraction of a second, removing it none.
        _mount(['-t', 'tmpfs', '-o', 'mode=755,size=%s' % ROOT_SIZE, 'tmpfs'], self.root)
        self.mounted.append(str(self.root))
        subprocess.run(['tar', '-xf', str(tarball), '-C', str(self.root), '--numeric-owner', '-p'], check=True, capture_output=True)
        self.timings['unpack'] = time.monotonic() - start
        start = time.monotonic()
        self._configure()
        self._mount_all()
        self._start_sshd()
        self.timings['boot'] = time.monotonic() - start
        return self

    def path(self, inside):
        """The controller's path of ``inside`` (an absolute path on the host)."""
        return self.root / str(inside).lstrip('/')

    def run(self, cmd, check=True, input=None, timeout=600):
        """Run ``cmd`` (a shell string or an argv list) inside the chroot as root; CompletedProcess with text."""
        argv = ['/bin/sh', '-c', cmd] if isinstance(cmd, str) else list(cmd)
        proc = subprocess.run(['chroot', str(self.root)] + argv, input=input, capture_output=True, text=True,
                              env=CHROOT_ENV, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise AssertionError('%s: %r failed (rc=%d)\nstdout:\n%s\nstderr:\n%s'
                                 % (self.name, cmd, proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:]))
        return proc

    def _write(self, inside, text, mode=0o644):
        path = self.path(inside)
        if path.is_symlink():
            path.unlink()
        path.write_text(text)
        path.chmod(mode)

    def _configure(self):
        self._write('/usr/sbin/policy-rc.d', POLICY_RC_D, 0o755)
        # The controller's resolver, as mmdebstrap gave the build: apt inside reaches the mirror.
        self._write('/etc/resolv.conf', Path('/etc/resolv.conf').read_text())
        self._write('/etc/hostname', self.name + '\n')
        self._write('/etc/hosts', '127.0.0.1 localhost\n%s %s\n::1 localhost ip6-localhost ip6-loopback\n' % (self.address, self.name))
        self._write('/etc/ssh/sshd_config.d/testbed.conf', SSHD_CONFIG.format(address=self.address, port=self.port, user=USER))
        ssh_dir = self.path('/home/%s/.ssh' % USER)
        ssh_dir.mkdir(mode=0o700)
        (ssh_dir / 'authorized_keys').write_text(self._authorized_key)
        self.run('chown -R {0}:{0} /home/{0}/.ssh && chmod 0600 /home/{0}/.ssh/authorized_keys'.format(USER))
        self.run("ssh-keygen -q -t ed25519 -N '' -C %s -f /etc/ssh/ssh_host_ed25519_key" % self.name)
        self.host_key = ' '.join(self.path('/etc/ssh/ssh_host_ed25519_key.pub').read_text().split()[:2])

    def _mount_all(self):
        # /dev and /dev/pts are the controller's (bound, not recursive); /dev/shm and /run are the host's own.
        plan = [(['-t', 'proc', 'proc'], '/proc'),
                (['-t', 'sysfs', '-o', 'ro,nosuid,nodev,noexec', 'sysfs'], '/sys'),
                (['--bind', '/dev'], '/dev'),
                (['--bind', '/dev/pts'], '/dev/pts'),
                (['-t', 'tmpfs', '-o', 'nosuid,nodev,mode=1777', 'tmpfs'], '/dev/shm'),
                (['-t', 'tmpfs', '-o', 'nosuid,nodev,mode=755', 'tmpfs'], '/run')]
        for args, inside in plan:
            target = self.path(inside)
            _mount(args, target)
            self.mounted.append(str(target))
        for inside, mode in (('/run/sshd', 0o755), ('/run/lock', 0o1777)):
            self.path(inside).mkdir()
            self.path(inside).chmod(mode)

    def _start_sshd(self):
        log = open(self.sshd_log, 'ab')
        # unshare --uts, hostname and chroot each exec the next: the Popen pid is sshd's.
        cmd = ['unshare', '--uts', 'sh', '-c', 'hostname "$1" && exec chroot "$2" /usr/sbin/sshd -D -e',
               'testbed-sshd', self.name, str(self.root)]
        self.sshd = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=CHROOT_ENV,
                                     start_new_session=True)
        log.close()
        wait_for_port(self.port, 'sshd of %s' % self.name, None, self.address, timeout=15,
                      log=lambda: self.sshd_log.read_text()[-2000:])

    def known_hosts_line(self):
        return '[%s]:%d %s\n' % (self.address, self.port, self.host_key)

    def stop(self):
        """Stop every process of this host, unmount what was mounted, remove the root. Errors as a list."""
        errors = []
        stop_process(self.sshd, timeout=5)
        left = stop_pids(lambda: pids_rooted_in(self.root))
        if left:
            errors.append('%s: processes still running in the chroot: %s' % (self.name, left))
        errors += unmount_all(self.mounted, self.root)
        self.mounted = []
        if not errors and self.root.exists():
            shutil.rmtree(self.root)
        return errors


def unmount_all(mounted, root):
    """Unmount ``mounted`` in reverse order, then anything else still mounted under ``root`` (deepest first)."""
    errors = []
    for target in reversed(mounted):
        if target in mounts_under(root) and not _umount(target):
            errors.append('could not unmount %s' % target)
    for target in sorted(mounts_under(root), key=len, reverse=True):
        if not _umount(target):
            errors.append('could not unmount %s' % target)
    left = mounts_under(root)
    if left:
        errors.append('still mounted under %s: %s' % (root, left))
    return errors


# --- the bed: hosts, key, known_hosts, inventory, ansible runs --------------------------------

_LIVE_BEDS = []


def _teardown_live_beds():
    for bed in list(_LIVE_BEDS):
        bed.teardown()


def _on_signal(signum, frame):
    _teardown_live_beds()
    previous = _PREVIOUS_HANDLERS.get(signum)
    if callable(previous):
        previous(signum, frame)
    else:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


_PREVIOUS_HANDLERS = {}


def _install_safety_net():
    if _PREVIOUS_HANDLERS:
        return
    atexit.register(_teardown_live_beds)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        previous = signal.getsignal(signum)
        _PREVIOUS_HANDLERS[signum] = previous
        if previous != signal.SIG_IGN:  # nohup's ignored SIGHUP stays ignored
            signal.signal(signum, _on_signal)


def reclaim_abandoned_runs():
    """Clean up after runs that were killed outright (SIGKILL): their owner pid is gone."""
    for run in CACHE.glob('run-*'):
        owner = run / 'owner.pid'
        try:
            pid = int(owner.read_text())
            os.kill(pid, 0)
            continue
        except (OSError, ValueError):
            pass
        stop_pids(lambda run=run: pids_rooted_in(run))
        stop_pids(lambda run=run: pids_with_argument(str(run)))
        if not unmount_all([], run):
            shutil.rmtree(run)


class TestBed(object):
    """Managed hosts of one test session, their SSH key, known_hosts and inventory."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self, first_address=FIRST_ADDRESS):
        require_testbed()
        _install_safety_net()
        reclaim_abandoned_runs()
        CACHE.mkdir(parents=True, exist_ok=True)
        self.workdir = Path(tempfile.mkdtemp(prefix='run-', dir=str(CACHE)))
        (self.workdir / 'owner.pid').write_text('%d\n' % os.getpid())
        self.control_path_dir = self.workdir / 'cp'
        self.control_path_dir.mkdir()
        self.key = self.workdir / 'id_ed25519'
        subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'testbed', '-f', str(self.key)], check=True)
        self.known_hosts = self.workdir / 'known_hosts'
        self.known_hosts.write_text('')
        self.hosts = {}
        self._next_address = first_address
        self.errors = []
        _LIVE_BEDS.append(self)

    def host(self, name, release='bookworm'):
        """The host ``name`` of ``release``, started on first use and kept for the session."""
        existing = self.hosts.get(name)
        if existing is not None:
            if existing.release != release:
                raise ValueError('%s is %s, not %s' % (name, existing.release, release))
            return existing
        address = '127.0.0.%d' % self._next_address
        self._next_address += 1
        host = ManagedHost(name, release, address, self.workdir / name, self.key.with_suffix('.pub').read_text())
        self.hosts[name] = host
        host.start()
        with open(self.known_hosts, 'a') as known_hosts:
            known_hosts.write(host.known_hosts_line())
        return host

    def inventory(self, path, hosts=None, group='provisioning_servers', host_vars=None, group_vars=None):
        """Write a YAML inventory of ``hosts`` (default: all) as a user would for SSH servers; returns ``path``."""
        hosts = list(self.hosts.values()) if hosts is None else list(hosts)
        entries = {}
        for host in hosts:
            entry = {'ansible_host': host.address, 'ansible_port': host.port}
            entry.update((host_vars or {}).get(host.name, {}))
            entries[host.name] = entry
        common = {
            'ansible_user': USER,
            'ansible_become': True,
            'ansible_python_interpreter': PYTHON,
            'ansible_ssh_private_key_file': str(self.key),
            # Host keys pinned: the keys this harness read from each host, checked strictly.
            'ansible_ssh_common_args': '-o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes' % self.known_hosts,
        }
        common.update(group_vars or {})
        data = {'all': {'children': {group: {'hosts': entries, 'vars': common}}}}
        path = Path(path)
        path.write_text(yaml.safe_dump(data, default_flow_style=False, sort_keys=False))
        return path

    def env(self, extra=None):
        """ansible_env() for SSH hosts: host key checking on, the managed host's own Python, our control sockets."""
        env = ansible_env({'ANSIBLE_HOST_KEY_CHECKING': 'true',
                           'ANSIBLE_SSH_CONTROL_PATH_DIR': str(self.control_path_dir)})
        # The Makefile exports the venv's Python for localhost runs; an SSH host uses its own.
        env.pop('ANSIBLE_PYTHON_INTERPRETER', None)
        env.update(extra or {})
        return env

    def playbook(self, workdir, playbook, inventory=None, args=(), env=None, timeout=900):
        """Run ansible-playbook from the project's venv against the hosts; a HostsResult."""
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        if isinstance(playbook, Path) or ('\n' not in playbook and playbook.endswith('.yml')):
            path = Path(playbook)
        else:
            path = workdir / ('play-%d.yml' % time.monotonic_ns())
            path.write_text(playbook)
        inventory = inventory or self.inventory(workdir / 'inventory.yml')
        cmd = [str(BIN / 'ansible-playbook'), '-i', str(inventory), str(path)] + list(args)
        proc = subprocess.run(cmd, cwd=str(workdir), env=self.env(env), capture_output=True, text=True,
                              timeout=timeout, check=False)
        try:
            data = json.loads(proc.stdout)
        except ValueError:
            raise AssertionError('ansible-playbook printed no JSON (rc=%s)\nstdout:\n%s\nstderr:\n%s'
                                 % (proc.returncode, proc.stdout[-4000:], proc.stderr[-4000:]))
        return HostsResult(proc, data)

    def teardown(self):
        """Stop every host (reverse order of start), then our SSH control masters; errors as a list."""
        if self not in _LIVE_BEDS:
            return self.errors
        _LIVE_BEDS.remove(self)
        for host in reversed(list(self.hosts.values())):
            self.errors += host.stop()
        left = stop_pids(lambda: pids_with_argument(str(self.control_path_dir)))
        if left:
            self.errors.append('SSH control masters still running: %s' % left)
        if not self.errors:
            shutil.rmtree(self.workdir)
        return self.errors


class HostsResult(PlaybookResult):
    """A PlaybookResult for many hosts: stats and task results per host name."""

    def host_stats(self, name):
        return self.data.get('stats', {}).get(name, {})

    def on(self, name, task):
        """The result of the last task called ``task`` on host ``name``."""
        for play in reversed(self.data.get('plays', [])):
            for entry in reversed(play.get('tasks', [])):
                if entry['task']['name'] == task and name in entry.get('hosts', {}):
                    return entry['hosts'][name]
        raise KeyError('no task %r on %s' % (task, name))

    def failures(self):
        """Every failed or unreachable task result, for assertion messages."""
        return [(entry['task']['name'], host, result.get('msg'))
                for play in self.data.get('plays', []) for entry in play.get('tasks', [])
                for host, result in entry.get('hosts', {}).items() if result.get('failed') or result.get('unreachable')]


@pytest.fixture(scope='session')
def testbed():
    """The session's TestBed: ``testbed.host('deb12', 'bookworm')`` starts a host (or returns it).

    Finalizer: every host stopped and unmounted; anything left behind fails the session's teardown.
    """
    bed = TestBed()
    yield bed
    errors = bed.teardown()
    assert not errors, 'test bed teardown left things behind: %s' % errors


@pytest.fixture(scope='session')
def testbed_hosts(testbed):
    """Two managed hosts, one of each release: deb12 (bookworm) and deb13 (trixie)."""
    return [testbed.host('deb12', 'bookworm'), testbed.host('deb13', 'trixie')]


if __name__ == '__main__':
    # Build (or find) the cached root file systems: python tests/integration/testbed.py [release...]
    for name in sys.argv[1:] or sorted(RELEASES):
        print(rootfs_tarball(name))
