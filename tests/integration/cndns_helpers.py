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

import socket
import subprocess
from pathlib import Path

from mpp_harness import DnsServer, free_port, stop_process, wait_for_port

ROOT_TRUST_ANCHOR = '.,20326,8,2,E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D'


class DnsLab(object):
    """Front dnsmasq (records, NXDOMAIN, empty answers, SERVFAIL for ``*.sf``) on 127.0.0.1:port."""

    def __init__(self, workdir, records, empty_names=(), servfail_names=('broken.sf',)):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.address = '127.0.0.1'
        upstream = DnsServer(self.workdir, dict((name, ['192.0.2.99']) for name in servfail_names),
                             local_domains=('sf',), name='upstream')
        args = ['--dnssec', '--trust-anchor=%s' % ROOT_TRUST_ANCHOR, '--server=127.0.0.1#%d' % upstream.port]
        args += ['--txt-record=%s,no-address-here' % name for name in empty_names]
        self.servers = [upstream]
        # DNSSEC validation needs dnsmasq's cache.
        front = DnsServer(self.workdir, records, name='front', cache_size=150, extra_args=args)
        self.servers.append(front)
        self.port = front.port

    def log(self):
        return (self.workdir / 'front.log').read_text()

    def stop(self):
        for server in self.servers:
            server.stop()


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
        wait_for_port(self.port, 'openssl s_server', self.proc)

    def stop(self):
        stop_process(self.proc, timeout=5)


def verify_defaults(lab, **defaults):
    """``module_defaults`` for :func:`mpp_harness.playbook_text`: cn_dns_verify asks ``lab``'s
    dnsmasq unless a task says otherwise, with the other module ``defaults`` given."""
    return {'phoneprov.mpp.cn_dns_verify': dict(nameservers=[lab.address], dns_port=lab.port, **defaults)}
