# -*- coding: utf-8 -*-
"""Helpers for the CN/DNS tests: real dnsmasq set-ups for every DNS outcome, openssl certificates.

``DnsLab`` starts real dnsmasq processes on 127.0.0.1 high ports:

- the *front* server answers names from a hosts file (A and AAAA), NXDOMAIN for unknown names
  under ``test``, an empty answer (NOERROR, no A/AAAA) for names that only have a TXT record;
- SERVFAIL: the front server validates DNSSEC with the real root trust anchor and forwards
  everything outside ``test`` to a second, *upstream* dnsmasq that serves ``*.sf`` names
  unsigned. Validation of those answers is BOGUS, so the front server answers a real SERVFAIL
  (dnsmasq logs ``validation x.sf is BOGUS``). dnsmasq's other failure answers are REFUSED.
- TIMEOUT: ``silent_udp_port()`` binds a UDP socket that never answers.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from mpp_harness import free_port

DNSMASQ = shutil.which('dnsmasq') or '/usr/sbin/dnsmasq'
ROOT_TRUST_ANCHOR = '.,20326,8,2,E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D'


def _start_dnsmasq(workdir, name, hosts, args):
    port = free_port()
    hosts_file = Path(workdir) / ('%s-hosts' % name)
    hosts_file.write_text(''.join('%s %s\n' % (addr, host) for host, addrs in hosts.items() for addr in addrs))
    cmd = [DNSMASQ, '--keep-in-foreground', '--no-resolv', '--no-hosts', '--no-poll', '--bind-interfaces',
           '--listen-address=127.0.0.1', '--port=%d' % port, '--addn-hosts=%s' % hosts_file, '--pid-file=',
           '--user=root', '--group=root', '--log-facility=%s' % (Path(workdir) / ('%s.log' % name)),
           '--log-queries'] + list(args)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while True:
        if proc.poll() is not None:
            raise RuntimeError('dnsmasq exited: %s' % proc.stderr.read().decode())
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=0.2):
                break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError('dnsmasq did not start on port %d' % port)
            time.sleep(0.05)
    return proc, port


class DnsLab(object):
    """Front dnsmasq (records, NXDOMAIN, empty answers, SERVFAIL for ``*.sf``) on 127.0.0.1:port."""

    def __init__(self, workdir, records, empty_names=(), servfail_names=('broken.sf',)):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.address = '127.0.0.1'
        self.procs = []
        upstream, upstream_port = _start_dnsmasq(
            self.workdir, 'upstream', dict((name, ['192.0.2.99']) for name in servfail_names),
            ['--local=/sf/', '--cache-size=0'])
        self.procs.append(upstream)
        args = ['--local=/test/', '--cache-size=150', '--dnssec', '--trust-anchor=%s' % ROOT_TRUST_ANCHOR,
                '--server=127.0.0.1#%d' % upstream_port]
        args += ['--txt-record=%s,no-address-here' % name for name in empty_names]
        front, self.port = _start_dnsmasq(self.workdir, 'front', records, args)
        self.procs.append(front)

    def log(self):
        return (self.workdir / 'front.log').read_text()

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


class SilentDns(object):
    """A UDP and TCP port on 127.0.0.1 that accepts queries and never answers (DNS timeout)."""

    def __init__(self):
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(('127.0.0.1', 0))
        self.port = self.udp.getsockname()[1]

    def close(self):
        self.udp.close()


def self_signed(workdir, cn, name='server', days=30, key_type='rsa:2048'):
    """A self-signed server certificate with subject CN ``cn`` made by real openssl; (cert, key) paths."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cert = workdir / ('%s.crt' % name)
    key = workdir / ('%s.key' % name)
    subprocess.run(['openssl', 'req', '-x509', '-newkey', key_type, '-nodes', '-keyout', str(key), '-out', str(cert),
                    '-days', str(days), '-subj', '/O=phoneprov test/CN=%s' % cn.replace('/', '\\/')],
                   check=True, capture_output=True, timeout=120)
    return cert, key


class TlsServer(object):
    """``openssl s_server`` on 127.0.0.1:<free port> presenting ``cert``/``key``."""

    def __init__(self, cert, key, extra=()):
        self.port = free_port()
        self.proc = subprocess.Popen(['openssl', 's_server', '-accept', '127.0.0.1:%d' % self.port, '-cert', str(cert),
                                      '-key', str(key), '-quiet'] + list(extra),
                                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError('openssl s_server exited: %s' % self.proc.stderr.read().decode())
            try:
                with socket.create_connection(('127.0.0.1', self.port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError('openssl s_server did not start')
                time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
