# -*- coding: utf-8 -*-
"""Shared harness for integration tests and benches: real ansible-playbook runs, real dnsmasq on loopback.

Tests drive the collection the way a user does, through ``ansible-playbook`` on localhost,
and judge results with real tools (openssl, curl, nginx). No service is mocked.

The one way to write a test playbook is :func:`playbook_text` (a play built from Python data or
from the YAML text of its task list), or :func:`import_playbook_text` for a playbook of imports; the one way to stop a process a test started is
:func:`stop_process` (a ``Popen`` or a daemon's pid, see :func:`read_pid`).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
COLLECTIONS = REPO / '.build' / 'collections'
DNSMASQ = shutil.which('dnsmasq') or '/usr/sbin/dnsmasq'
NGINX = shutil.which('nginx') or '/usr/sbin/nginx'


def _ensure_collection_link():
    link = COLLECTIONS / 'ansible_collections' / 'phoneprov' / 'mpp'
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.exists():
        link.symlink_to(REPO)


_ensure_collection_link()


def free_port():
    """A free TCP and UDP port on 127.0.0.1."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(('127.0.0.1', 0))
            port = tcp.getsockname()[1]
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.bind(('127.0.0.1', port))
        except OSError:
            continue
        return port


def playbook_text(tasks=None, name='test play', hosts='localhost', gather_facts=False, **keywords):
    """One play on ``hosts`` as YAML text, for :func:`run_playbook` (or a file a test writes).

    ``tasks`` is a list of task dicts, or the YAML text of that list when a test lists many tasks
    (readable as a playbook is); None leaves the play without tasks (a play of ``roles``).
    ``keywords`` are further play keywords (``vars``, ``module_defaults``, ``roles``...) as given.
    """
    play = {'name': name, 'hosts': hosts, 'gather_facts': gather_facts}
    play.update(keywords)
    if tasks is not None:
        play['tasks'] = list(yaml.safe_load(tasks) if isinstance(tasks, str) else tasks)
    return yaml.safe_dump([play], sort_keys=False, default_flow_style=False, width=1 << 16)


def import_playbook_text(playbooks):
    """A playbook of ``import_playbook`` entries as YAML text: ``playbooks`` is a list of
    (name, playbook) pairs, a playbook given as a path or an FQCN (``phoneprov.mpp.site``)."""
    entries = [{'name': name, 'ansible.builtin.import_playbook': str(playbook)} for name, playbook in playbooks]
    return yaml.safe_dump(entries, sort_keys=False, default_flow_style=False, width=1 << 16)


def read_pid(pid_file):
    """The pid a daemon wrote into ``pid_file``, or None when there is none (not started, gone)."""
    try:
        return int(Path(pid_file).read_text().strip())
    except (OSError, ValueError):
        return None


def _running(pid):
    try:
        reaped, _status = os.waitpid(pid, os.WNOHANG)
        return reaped == 0
    except ChildProcessError:  # not our child (a daemon): gone, or a zombie its parent has yet to reap
        try:
            return Path('/proc/%d/stat' % pid).read_text().rsplit(')', 1)[1].split()[0] != 'Z'
        except (OSError, IndexError):
            return False


def stop_process(process, sig=signal.SIGTERM, timeout=10):
    """Stop ``process`` and wait until it is gone: send ``sig``, after ``timeout`` seconds SIGKILL.

    ``process`` is a ``subprocess.Popen`` or the pid of a daemon (nginx's master: pass
    ``signal.SIGQUIT`` to let it finish its requests); None or a process already gone is fine.
    """
    if process is None:
        return
    if isinstance(process, subprocess.Popen):
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=timeout)
        return
    pid = int(process)
    for signal_number in (sig, signal.SIGKILL):
        try:
            os.kill(pid, signal_number)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _running(pid):
                return
            time.sleep(0.05)
    raise RuntimeError('process %d did not stop' % pid)


class PlaybookResult(object):
    """The outcome of one ansible-playbook run, read from the json callback."""

    def __init__(self, proc, data):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.data = data
        self.stats = data.get('stats', {}).get('localhost', {}) if data else {}

    @property
    def tasks(self):
        """List of (task name, result dict for localhost)."""
        out = []
        for play in (self.data or {}).get('plays', []):
            for task in play.get('tasks', []):
                host = task.get('hosts', {}).get('localhost')
                if host is not None:
                    out.append((task['task']['name'], host))
        return out

    def task(self, name):
        """The result of the last task called ``name``."""
        found = [result for task_name, result in self.tasks if task_name == name]
        if not found:
            raise KeyError('no task %r in %s' % (name, [task[0] for task in self.tasks]))
        return found[-1]

    @property
    def changed(self):
        return self.stats.get('changed', 0)

    @property
    def failed(self):
        return self.stats.get('failures', 0)


def ansible_env(extra=None):
    env = dict(os.environ)
    env.update({
        'ANSIBLE_COLLECTIONS_PATH': str(COLLECTIONS),
        'ANSIBLE_STDOUT_CALLBACK': 'json_results',
        'ANSIBLE_CALLBACK_PLUGINS': str(Path(__file__).resolve().parent / 'callback_plugins'),
        'ANSIBLE_CALLBACK_RESULT_FORMAT': 'json',
        'ANSIBLE_RETRY_FILES_ENABLED': 'false',
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_LOCALHOST_WARNING': 'false',
        'ANSIBLE_HOST_KEY_CHECKING': 'false',
        'ANSIBLE_ROLES_PATH': str(REPO / 'roles'),
        'PATH': '%s:%s' % (BIN, env.get('PATH', '/usr/bin:/bin')),
    })
    env.pop('ANSIBLE_CONFIG', None)
    if extra:
        env.update(extra)
    return env


def run_playbook(workdir, playbook, extra_vars=None, check=False, diff=False, tags=None, env=None, args=()):
    """Run a playbook on localhost with the venv's Python and return a PlaybookResult.

    ``playbook`` is YAML text (written into ``workdir``) or the path of an existing playbook.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if isinstance(playbook, Path) or (isinstance(playbook, str) and '\n' not in playbook and playbook.endswith('.yml')):
        path = Path(playbook)
    else:
        path = workdir / ('play-%d.yml' % time.monotonic_ns())
        path.write_text(playbook)
    inventory = workdir / 'inventory.ini'
    inventory.write_text('localhost ansible_connection=local ansible_python_interpreter=%s\n' % sys.executable)
    cmd = [str(BIN / 'ansible-playbook'), '-i', str(inventory), str(path)]
    if extra_vars:
        vars_file = workdir / ('vars-%d.json' % time.monotonic_ns())
        vars_file.write_text(json.dumps(extra_vars))
        cmd += ['-e', '@%s' % vars_file]
    if check:
        cmd.append('--check')
    if diff:
        cmd.append('--diff')
    if tags:
        cmd += ['--tags', tags]
    cmd += list(args)
    results_file = workdir / ('results-%d.json' % time.monotonic_ns())
    run_env = dict(env or {}, MPP_TEST_RESULTS_FILE=str(results_file))
    proc = subprocess.run(cmd, cwd=str(workdir), env=ansible_env(run_env), capture_output=True, text=True, timeout=900, check=False)
    try:
        data = json.loads(results_file.read_text())
    except (OSError, ValueError):
        data = None
    result = PlaybookResult(proc, data)
    if data is None:
        raise AssertionError('ansible-playbook printed no JSON (rc=%s)\nstdout:\n%s\nstderr:\n%s'
                             % (proc.returncode, proc.stdout[-4000:], proc.stderr[-4000:]))
    return result


@pytest.fixture
def playbook(tmp_path):
    """``playbook(yaml_or_path, **kwargs)`` runs ansible-playbook in this test's tmp dir."""
    def _run(text, **kwargs):
        return run_playbook(tmp_path, text, **kwargs)
    return _run


def wait_for_port(port, what, proc=None, address='127.0.0.1', timeout=10, log=None):
    """Wait until ``address:port`` accepts TCP connections (dnsmasq, nginx and openssl s_server
    all listen on TCP); RuntimeError naming ``what`` if ``proc`` exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError('%s exited: %s' % (what, proc.stderr.read().decode() if proc.stderr else proc.returncode))
        try:
            with socket.create_connection((address, port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                if proc is not None:
                    proc.kill()
                raise RuntimeError('%s did not start on port %d%s' % (what, port, (': ' + log()) if log else ''))
            time.sleep(0.05)


class DnsServer(object):
    """dnsmasq on 127.0.0.1 and a high port, authoritative for the given names only.

    Records come from a hosts file re-read on SIGHUP, so a test can change DNS while it runs.
    Names under ``local_domains`` that have no record answer NXDOMAIN; names under
    ``servfail_domains`` are forwarded to a closed port and answer SERVFAIL or time out.
    ``name`` names its files in ``workdir``; ``extra_args`` go to dnsmasq as they are.
    """

    def __init__(self, workdir, records=None, local_domains=('test',), servfail_domains=(), name='dnsmasq',
                 cache_size=0, extra_args=()):
        self.address = '127.0.0.1'
        self.port = free_port()
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.hosts_file = self.workdir / ('%s-hosts' % name)
        self.log_file = self.workdir / ('%s.log' % name)
        self.records = {}
        self.set_records(records or {}, reload=False)
        cmd = [DNSMASQ, '--keep-in-foreground', '--no-resolv', '--no-hosts', '--no-poll',
               '--bind-interfaces', '--listen-address=%s' % self.address, '--port=%d' % self.port,
               '--addn-hosts=%s' % self.hosts_file, '--pid-file=', '--user=root', '--group=root',
               '--cache-size=%d' % cache_size, '--log-facility=%s' % self.log_file, '--log-queries']
        cmd += ['--local=/%s/' % domain for domain in local_domains]
        cmd += ['--server=/%s/127.0.0.1#9' % domain for domain in servfail_domains]
        cmd += list(extra_args)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for_port(self.port, 'dnsmasq', self.proc, self.address)

    def set_records(self, records, reload=True):
        """Replace all records: ``{'prov.mpp.test': ['127.0.0.1', '::1'], ...}``."""
        self.records = dict((name, list(addrs)) for name, addrs in records.items())
        lines = ['%s %s' % (addr, name) for name, addrs in self.records.items() for addr in addrs]
        self.hosts_file.write_text('\n'.join(lines) + '\n')
        if reload:
            self.proc.send_signal(signal.SIGHUP)
            time.sleep(0.2)

    def stop(self):
        stop_process(self.proc, timeout=5)


@pytest.fixture
def dns_server(tmp_path):
    """Factory: ``dns_server({'prov.mpp.test': ['127.0.0.1']})`` starts dnsmasq for this test."""
    servers = []

    def _start(records=None, **kwargs):
        server = DnsServer(tmp_path / ('dns%d' % len(servers)), records, **kwargs)
        servers.append(server)
        return server
    yield _start
    for server in servers:
        server.stop()


def openssl(*args, input=None, check=True):
    """Run the real openssl command line; returns CompletedProcess with text output."""
    return subprocess.run(['openssl'] + list(args), input=input, capture_output=True, text=True,
                          check=check, timeout=120)
