# -*- coding: utf-8 -*-
"""Benchmark: full TLS handshakes with a phone client certificate, each fetching one profile.

Compares, in the same run and on loopback only:
  * role   - the system nginx deployed by roles/provisioning_server (per-phone authorization from
             the certificate subject, JSON access log), and
  * minimal - a separate nginx (own -p prefix and -c config, another port) with the same
             certificates and ``ssl_verify_client on``, no access control and no logging.
Load: ``openssl s_time -new -cert -key -CAfile -www /cfg/<mac>.xml`` run by several clients in
parallel, rounds alternating between the two servers. Also records ``openssl speed -seconds 3
rsa2048`` sign/s. Bounded: ROUNDS x 2 x (SECONDS + 1) of load plus about 15 s of setup (defaults: about 65 s).

Usage (root, from the repository root):
    .venv/bin/python tests/bench/server_handshakes.py [--clients 4] [--seconds 4] [--rounds 5]
        [--output tests/bench/RESULTS-server.md]
Takes the system nginx lock (/tmp/mpp-system-nginx.lock) for the whole run.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path


REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / 'tests' / 'integration'))

from provisioning_server_helpers import make_pki, nginx_pids, role_sites, running_server  # noqa: E402  pylint: disable=wrong-import-position
from mpp_harness import NGINX, free_port, stop_process, wait_for_port  # noqa: E402  pylint: disable=wrong-import-position

MAC = '000e08abcdef'
PROFILE = ('<flat-profile>\n' + ''.join('  <Param_%03d_>value %03d</Param_%03d_>\n' % (i, i, i) for i in range(60))
           + '</flat-profile>\n')
MINIMAL_CONF = '''
worker_processes auto;
user www-data;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{
    worker_connections 768;
}}
http {{
    access_log off;
    sendfile on;
    include /etc/nginx/mime.types;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_client_certificate {client_ca};
        ssl_verify_client on;
        # Same TLS versions and ciphers as the role (nginx 1.22's own default, TLS 1.0-1.2 only,
        # would compare TLS 1.2 handshakes with the role's TLS 1.3 ones).
        ssl_protocols {protocols};
        ssl_ciphers {ciphers};
        ssl_prefer_server_ciphers on;
        ssl_session_tickets off;
        root {docroot};
    }}
}}
'''


def s_time_round(port, phone, ca, seconds, clients):
    """Run ``clients`` parallel s_time for ``seconds``; returns (connections, wall seconds, bytes)."""
    cmd = ['openssl', 's_time', '-connect', '127.0.0.1:%d' % port, '-new', '-cert', phone['cert'],
           '-key', phone['key'], '-CAfile', ca, '-www', '/cfg/%s.xml' % MAC, '-time', str(seconds)]
    start = time.monotonic()
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for dummy in range(clients)]
    connections = 0
    total_bytes = 0
    for proc in procs:
        out, err = proc.communicate(timeout=seconds + 60)
        match = re.search(r'(\d+) connections in [\d.]+s; [\d.]+ connections/user sec, bytes read (\d+)', out)
        if not match:
            raise RuntimeError('s_time printed no result:\n%s\n%s' % (out[-2000:], err[-2000:]))
        connections += int(match.group(1))
        total_bytes += int(match.group(2))
    return connections, time.monotonic() - start, total_bytes


CLOCK_TICKS = os.sysconf('SC_CLK_TCK')


def nginx_cpu_seconds(master_pid):
    """CPU seconds (user + system) used so far by the workers of the nginx master ``master_pid``."""
    total = 0
    for entry in Path('/proc').iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / 'stat').read_text().rsplit(')', 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master_pid:
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def keepalive_requests(port, phone, ca, count):
    """``count`` GETs of the profile over one TLS connection (no handshakes): isolates the cost of
    request processing (authorization, logging) from the handshake. Returns the statuses seen."""
    context = ssl.create_default_context(cafile=ca)
    context.check_hostname = False
    context.load_cert_chain(phone['cert'], phone['key'])
    conn = http.client.HTTPSConnection('127.0.0.1', port, context=context, timeout=30)
    statuses = set()
    try:
        for dummy in range(count):
            conn.request('GET', '/cfg/%s.xml' % MAC, headers={'User-Agent': 'Cisco-CP-8841-3PCC/12.0.1 (%s)' % MAC})
            response = conn.getresponse()
            response.read()
            statuses.add(response.status)
    finally:
        conn.close()
    return statuses


def rsa_sign_per_second():
    out = subprocess.run(['openssl', 'speed', '-seconds', '3', 'rsa2048'], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    match = re.search(r'^rsa\s+2048 bits\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)', out, re.M)
    return float(match.group(1)), float(match.group(2))


def check_answer(port, phone, ca, expect):
    """One request with curl: the server answers 200 and the profile (not an error page)."""
    proc = subprocess.run(['curl', '-sS', '--cacert', ca, '--cert', phone['cert'], '--key', phone['key'],
                           '--resolve', 'prov.mpp.test:%d:127.0.0.1' % port,
                           'https://prov.mpp.test:%d/cfg/%s.xml' % (port, MAC), '-w', '\n%{http_code}'],
                          capture_output=True, text=True, timeout=30, check=False)
    body, dummy, status = proc.stdout.rpartition('\n')
    if status != '200' or body != expect:
        raise RuntimeError('server on port %d answered %s %r %s' % (port, status, body[:100], proc.stderr))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--clients', type=int, default=4, help='parallel s_time clients (1-16)')
    parser.add_argument('--seconds', type=int, default=4, help='seconds per round and server (1-30)')
    parser.add_argument('--rounds', type=int, default=5, help='alternating rounds (1-10)')
    parser.add_argument('--requests', type=int, default=4000, help='keep-alive requests per server (100-20000)')
    parser.add_argument('--output', default=str(REPO / 'tests' / 'bench' / 'RESULTS-server.md'))
    args = parser.parse_args()
    if not (1 <= args.clients <= 16 and 1 <= args.seconds <= 30 and 1 <= args.rounds <= 10 and 100 <= args.requests <= 20000):
        parser.error('bounds: clients 1-16, seconds 1-30, rounds 1-10, requests 100-20000')

    workdir = Path(tempfile.mkdtemp(prefix='mpp-bench-server-'))
    minimal_prefix = workdir / 'minimal'
    minimal_prefix.mkdir()
    minimal_port = free_port()
    minimal = None
    try:
        pki = make_pki(workdir / 'pki')
        phone = pki.phone(MAC)
        with running_server(workdir / 'role', pki=pki, profiles={MAC: PROFILE}) as server:
            conf = minimal_prefix / 'nginx.conf'
            # The same TLS settings as the role's site (its defaults are templates: read what it wrote).
            site = Path(role_sites()[0]).read_text()
            conf.write_text(MINIMAL_CONF.format(prefix=minimal_prefix, port=minimal_port, cert=pki.server_cert,
                                                protocols=re.search(r'^\s*ssl_protocols ([^;]+);', site, re.M).group(1),
                                                ciphers=re.search(r'^\s*ssl_ciphers ([^;]+);', site, re.M).group(1),
                                                key=pki.server_key, client_ca=pki.client_ca, docroot=server.root))
            # The minimal server serves the same file at the same URL: <root>/cfg/<mac>.xml.
            os.symlink(str(server.docroot), str(server.root / 'cfg'))
            minimal = subprocess.Popen([NGINX, '-p', str(minimal_prefix), '-c', str(conf), '-g', 'daemon off;'],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            wait_for_port(minimal_port, 'minimal nginx', minimal)
            check_answer(server.port, phone, pki.server_ca, PROFILE)
            check_answer(minimal_port, phone, pki.server_ca, PROFILE)
            lines_before = len(server.log_lines())
            totals = {'role': [0, 0.0, 0, 0.0], 'minimal': [0, 0.0, 0, 0.0]}
            masters = {'role': nginx_pids()[0], 'minimal': minimal.pid}
            per_round = []
            for round_no in range(args.rounds):
                order = [('role', server.port), ('minimal', minimal_port)]
                if round_no % 2:
                    order.reverse()
                for name, port in order:
                    cpu_before = nginx_cpu_seconds(masters[name])
                    conns, wall, nbytes = s_time_round(port, phone, pki.server_ca, args.seconds, args.clients)
                    cpu = nginx_cpu_seconds(masters[name]) - cpu_before
                    totals[name][0] += conns
                    totals[name][1] += wall
                    totals[name][2] += nbytes
                    totals[name][3] += cpu
                    per_round.append((round_no + 1, name, conns, wall, conns / wall, 1e6 * cpu / max(conns, 1)))
                    print('round %d %-7s %6d handshakes in %5.1fs = %7.1f/s, server CPU %5.0f us/handshake'
                          % per_round[-1])
            logged = server.log_lines()[lines_before:]
            # Request processing alone: keep-alive requests, no handshakes, worker CPU per request.
            per_request = {}
            for name, port in (('role', server.port), ('minimal', minimal_port)):
                cpu_before = nginx_cpu_seconds(masters[name])
                statuses = keepalive_requests(port, phone, pki.server_ca, args.requests)
                per_request[name] = 1e6 * (nginx_cpu_seconds(masters[name]) - cpu_before) / args.requests
                if statuses != {200}:
                    raise RuntimeError('%s server answered %s to keep-alive requests' % (name, statuses))
            print('keep-alive request processing: role %.1f us, minimal %.1f us per request'
                  % (per_request['role'], per_request['minimal']))
            ok_lines = sum(1 for line in logged if line['status'] == 200 and line['mac'] == MAC)
        sign, verify = rsa_sign_per_second()
    finally:
        stop_process(minimal)
        shutil.rmtree(str(workdir), ignore_errors=True)

    role_rate = totals['role'][0] / totals['role'][1]
    minimal_rate = totals['minimal'][0] / totals['minimal'][1]
    ratio = role_rate / minimal_rate
    role_cpu = 1e6 * totals['role'][3] / max(totals['role'][0], 1)
    minimal_cpu = 1e6 * totals['minimal'][3] / max(totals['minimal'][0], 1)
    role_bytes = totals['role'][2] / max(totals['role'][0], 1)
    minimal_bytes = totals['minimal'][2] / max(totals['minimal'][0], 1)
    print('role %.1f/s, minimal %.1f/s, ratio %.1f%% (target >= 90%%); rsa2048 %.0f sign/s, %.0f verify/s'
          % (role_rate, minimal_rate, 100 * ratio, sign, verify))
    print('server CPU per handshake: role %.0f us, minimal %.0f us (minimal/role %.1f%%)'
          % (role_cpu, minimal_cpu, 100 * minimal_cpu / role_cpu))
    print('role: %d log lines with status 200 for %d handshakes' % (ok_lines, totals['role'][0]))

    rows = '\n'.join('| %d | %s | %d | %.1f | %.1f | %.0f |' % row for row in per_round)
    text = '''# Provisioning server benchmark (tests/bench/server_handshakes.py)

Full TLS handshakes with a phone client certificate (RSA 2048), each fetching one profile
(`openssl s_time -new -cert -key -CAfile -www /cfg/<mac>.xml`), {clients} clients in parallel on
the same machine, loopback only; {rounds} alternating rounds of {seconds} s per server.

- **role**: system nginx deployed by `roles/provisioning_server` (per-phone authorization from
  the certificate subject, JSON access log, TLS 1.2/1.3 as configured by the role).
- **minimal**: separate nginx (own `-p`/`-c`, another port), same certificates,
  `ssl_verify_client on`, the role's default TLS versions and ciphers (so both negotiate
  TLS 1.3), no access control, no logging.

Run: {date} on {cpus} CPU(s), {nginx}, {openssl}. The machine is shared with other work, so
throughput figures are noisy; both servers share the noise in alternating rounds. The worker
CPU time per handshake (from /proc, user + system) depends much less on the neighbours' load.

| figure | value |
|---|---|
| role: resyncs/s | {role:.1f} |
| minimal: resyncs/s | {minimal:.1f} |
| ratio role / minimal | {ratio:.1f} % (target >= 90 %) |
| nginx worker CPU per handshake, role / minimal | {rcpu:.0f} us / {mcpu:.0f} us |
| CPU-based ratio (minimal CPU / role CPU per handshake) | {cratio:.1f} % |
| `openssl speed -seconds 3 rsa2048` | {sign:.0f} sign/s, {verify:.0f} verify/s |
| request processing alone (keep-alive, {requests} requests, worker CPU per request), role / minimal | {kr:.1f} us / {km:.1f} us |
| authorization + logging overhead per resync, as share of a full handshake | {share:.1f} % |
| bytes read per handshake (role / minimal) | {rb:.0f} / {mb:.0f} |
| role: access-log lines with status 200 and the phone's MAC | {ok} of {rc} handshakes |

| round | server | handshakes | seconds | per second | worker CPU us/handshake |
|---|---|---|---|---|---|
{rows}
'''.format(clients=args.clients, rounds=args.rounds, seconds=args.seconds,
           date=datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
           cpus=os.cpu_count(), nginx=subprocess.run([NGINX, '-v'], capture_output=True, text=True, check=False).stderr.strip(),
           openssl=subprocess.run(['openssl', 'version'], capture_output=True, text=True, check=False).stdout.strip(),
           role=role_rate, minimal=minimal_rate, ratio=100 * ratio, sign=sign, verify=verify,
           requests=args.requests, kr=per_request['role'], km=per_request['minimal'],
           share=100 * (per_request['role'] - per_request['minimal']) / minimal_cpu,
           rcpu=role_cpu, mcpu=minimal_cpu, cratio=100 * minimal_cpu / role_cpu, rb=role_bytes, mb=minimal_bytes,
           ok=ok_lines, rc=totals['role'][0], rows=rows)
    Path(args.output).write_text(text)
    print('figures written to %s' % args.output)
    return 0


if __name__ == '__main__':
    sys.exit(main())
