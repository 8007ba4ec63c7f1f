# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TLS settings and rate limits of role provisioning_server, judged by real openssl s_client and curl.

- By default only forward-secret AEAD suites for TLS 1.2 (Mozilla's intermediate profile) and
  TLS 1.3: static-RSA key exchange and CBC/SHA-1 suites are refused; ``mpp_server_tls_compat``
  brings the wider list back; the user's own ``mpp_server_ssl_ciphers`` wins over both.
- No session tickets: a saved session is not resumed (TLS 1.2 and 1.3).
- TLS 1.0/1.1 in ``mpp_server_ssl_protocols`` gives a warning in the play; unknown names stop the role.
- Rate limits per client address: with a small limit a burst of requests from one address is
  answered 429 (logged); with the defaults a storm of requests from one address all pass.

One deployment for the module; a test that needs other variables redeploys (``configured``).
"""

from __future__ import annotations

import concurrent.futures
import subprocess
import time

import pytest

from mpp_harness import stop_process
from provisioning_server_helpers import DEFAULT_PHONES, role_sites, running_server

OWN = DEFAULT_PHONES[0]['mac']
PROFILE = '<flat-profile><Resync_Periodic>3600</Resync_Periodic></flat-profile>\n'
# The protocols and ciphers an old client would get from the old defaults.
STATIC_RSA = ('AES128-SHA', 'AES128-GCM-SHA256')
ECDHE_CBC = ('ECDHE-RSA-AES128-SHA', 'ECDHE-RSA-AES128-SHA256')
INTERMEDIATE = ('ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-CHACHA20-POLY1305')
STORM_REQUESTS = 200


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp('server_tls')
    with running_server(workdir, profiles={OWN: PROFILE}) as srv:
        srv.base_vars = dict(srv.vars)
        yield srv


def configured(server, **role_vars):
    """Deploy the base variables and ``role_vars`` unless already deployed; the run's PlaybookResult or None."""
    wanted = dict(server.base_vars, **role_vars)
    if wanted == server.vars:
        return None
    server.vars = wanted
    result = server.deploy()
    assert result.rc == 0, result.stdout[-4000:]
    return result


def s_client(server, *args, request=False, client=OWN):
    """What ``openssl s_client`` prints for one connection with ``args`` (with an HTTP/1.0 GET when ``request``)."""
    phone = server.pki.phone(client)
    command = ['openssl', 's_client', '-connect', '127.0.0.1:%d' % server.port, '-servername', server.fqdn,
               '-CAfile', server.pki.server_ca, '-cert', phone['cert'], '-key', phone['key']] + list(args)
    text = ''
    if request:
        # -ign_eof: read until the server closes, so that post-handshake session tickets are seen.
        command.append('-ign_eof')
        text = 'GET /cfg/%s.xml HTTP/1.0\r\nHost: %s\r\n\r\n' % (OWN, server.fqdn)
    proc = subprocess.run(command, input=text, capture_output=True, text=True, timeout=30, check=False)
    return proc.stdout + proc.stderr


def negotiated(server, cipher):
    """The suite nginx agreed to for a TLS 1.2 client offering only ``cipher`` (None: refused)."""
    printed = s_client(server, '-tls1_2', '-cipher', cipher)
    for line in printed.splitlines():
        if ', Cipher is ' in line:
            name = line.split(', Cipher is ', 1)[1].strip()
            return None if name == '(NONE)' else name
    return None


def test_default_refuses_static_rsa_and_cbc_suites(server):
    configured(server)
    for cipher in STATIC_RSA + ECDHE_CBC:
        assert negotiated(server, cipher) is None, cipher
    for cipher in INTERMEDIATE:
        assert negotiated(server, cipher) == cipher
    printed = s_client(server, '-tls1_3')
    assert 'New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384' in printed, printed[-800:]


@pytest.mark.parametrize('version', ['-tls1_2', '-tls1_3'])
def test_no_session_tickets_no_resumption(server, tmp_path, version):
    configured(server)
    session = tmp_path / 'session.pem'
    first = s_client(server, version, '-sess_out', str(session), request=True)
    assert 'HTTP/1.1 200 OK' in first, first[-800:]
    assert 'TLS session ticket:' not in first and 'New Session Ticket arrived' not in first, first[-1500:]
    if version == '-tls1_3':
        # s_client saves a TLS 1.3 session only from a ticket: there is nothing to resume.
        assert not session.exists()
        return
    second = s_client(server, version, '-sess_in', str(session), request=True)
    assert 'HTTP/1.1 200 OK' in second and 'Reused, ' not in second, second[-800:]
    assert '\nNew, TLSv1.' in second


def test_compat_switch_and_own_cipher_list(server):
    # TLSv1.1 in the list: the play warns (and OpenSSL 3's security level still refuses it).
    result = configured(server, mpp_server_tls_compat=True, mpp_server_ssl_protocols=['TLSv1.1', 'TLSv1.2', 'TLSv1.3'])
    warning = result.task('Warn about TLS versions older than 1.2')
    assert 'WARNING' in warning['msg'] and 'TLSv1.1' in warning['msg'], warning
    for cipher in STATIC_RSA + ECDHE_CBC + INTERMEDIATE:
        assert negotiated(server, cipher) == cipher
    printed = s_client(server, '-tls1_1', '-cipher', 'DEFAULT:@SECLEVEL=0')
    assert 'Cipher is (NONE)' in printed, printed[-800:]
    # The user's own list wins over the switch.
    configured(server, mpp_server_tls_compat=True, mpp_server_ssl_ciphers='ECDHE-RSA-AES256-GCM-SHA384')
    assert negotiated(server, 'ECDHE-RSA-AES256-GCM-SHA384') == 'ECDHE-RSA-AES256-GCM-SHA384'
    for cipher in ('AES128-SHA', 'ECDHE-RSA-AES128-GCM-SHA256'):
        assert negotiated(server, cipher) is None, cipher
    # Back to the defaults: no warning task runs.
    result = configured(server)
    assert result.task('Warn about TLS versions older than 1.2').get('skipped'), result.tasks
    assert negotiated(server, 'AES128-SHA') is None


def test_unknown_protocol_stops_the_role(server):
    configured(server)
    result = server.deploy({'mpp_server_ssl_protocols': ['TLSv1.2', 'SSLv3']})
    try:
        assert result.rc != 0
        assert 'SSLv3' in result.stdout and 'mpp_server_ssl_protocols' in result.stdout, result.stdout[-3000:]
        # Nothing was written: the site still serves as before.
        assert server.curl('/cfg/%s.xml' % OWN, OWN).status == 200
    finally:
        server.vars = dict(server.base_vars)


def _storm(server, count, workers):
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda _index: server.curl('/cfg/%s.xml' % OWN, OWN).status, range(count)))


def test_default_limits_let_a_storm_from_one_address_through(server):
    configured(server)
    with open(role_sites()[0]) as handle:
        site = handle.read()
    assert 'limit_req zone=' in site and 'limit_conn ' in site
    statuses = _storm(server, STORM_REQUESTS, 16)
    assert statuses == [200] * STORM_REQUESTS, sorted(set(statuses))


def test_small_limits_answer_429_and_log_it(server, tmp_path):
    configured(server, mpp_server_rate_limit_requests_per_second=1, mpp_server_rate_limit_burst=2,
               mpp_server_rate_limit_connections=1)
    before = len(server.log_lines())
    error_log = server.workdir / 'logs' / 'mpp-error.log'
    # 20 requests one after the other from one address: 1 + burst 2 pass, the rest (bar one a second)
    # are refused by the request limit. One at a time, so that the connection limit (1) refuses none
    # of them: concurrent requests would meet it first, and how many pass would depend on timing.
    statuses = [server.curl('/cfg/%s.xml' % OWN, OWN).status for _index in range(20)]
    assert statuses[:3] == [200] * 3 and statuses.count(429) >= 4 and set(statuses) == {200, 429}, statuses
    assert sorted(line['status'] for line in server.log_lines()[before:]) == sorted(statuses)
    assert 'limiting requests, excess:' in error_log.read_text()

    # One slow download holds the address's only request slot: another request meanwhile gets 429.
    time.sleep(3)  # the request bucket empties (1/s)
    big = server.write_shared('firmware.loads', 'x' * (48 << 20))
    received = tmp_path / 'firmware.loads'
    phone = server.pki.phone(OWN)
    slow = subprocess.Popen(['curl', '-sS', '-o', str(received), '--limit-rate', '1M', '--cacert', server.pki.server_ca,
                             '--resolve', '%s:%d:127.0.0.1' % (server.fqdn, server.port), '--cert', phone['cert'],
                             '--key', phone['key'], server.url('/shared/firmware.loads')],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not (received.exists() and received.stat().st_size > 0) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert received.stat().st_size > 0 and slow.poll() is None
        assert server.curl('/cfg/%s.xml' % OWN, OWN).status == 429
        assert 'limiting connections by zone' in error_log.read_text()
    finally:
        stop_process(slow)
        big.unlink()
    time.sleep(3)
    assert server.curl('/cfg/%s.xml' % OWN, OWN).status == 200
