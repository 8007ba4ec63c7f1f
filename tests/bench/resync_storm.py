# -*- coding: utf-8 -*-
"""Resync storm: N phones resync at once after a power cut, against the provisioning_server role.

Every simulated phone has its own MAC, its own client certificate (ECDSA P-256 keys, minted with
module_utils/pki_lab.py's issue_client_certificate from the test client CA, to keep set-up fast; the
server certificate is RSA 2048 as Cisco-signed ones are) and its own profile. Each phone waits a
random time in [0, window] seconds (the Resync_Random_Delay spread: the phones come back at once,
Resync_On_Reset) and then does one full resync with module_utils/phone_emulator.py: DNS lookup of the
URL host and of the CN's FQDN (dnsmasq on loopback, no caching in the emulator), a full TLS handshake
with its client certificate verified by nginx, the CN rule, the DNS check, GET of its own $MA.xml, and
parsing of the profile. Nothing is mocked: the server is the role deployed on the system nginx
(tests/integration/provisioning_server_helpers.running_server, which takes the system nginx lock).

Reports successes (behaviour A), failures by behaviour and reason, completed resyncs per second,
latency percentiles (p50/p90/p99, from the moment a phone starts to its parsed profile) and how late
the load generator started phones (if it lags, the figures measure the generator, not the server).

Bounded: at most --max-phones phones (default cap 5000), a hard --deadline (seconds, default 300);
loopback only (127.0.0.1). Exit status 0 when every phone got A, 1 otherwise.

    .venv/bin/python tests/bench/resync_storm.py --phones 300 --window 10 --workers 48
    .venv/bin/python tests/bench/resync_storm.py --phones 300 --window 10 --markdown tests/bench/RESULTS-storm.md
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / 'tests' / 'integration'))
sys.path.insert(0, str(REPO / '.build' / 'collections'))

from mpp_harness import DnsServer  # noqa: E402  pylint: disable=wrong-import-position
from provisioning_server_helpers import make_pki, running_server  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.phoneprov.mpp.plugins.module_utils import pki, pki_lab  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.phoneprov.mpp.plugins.module_utils.flat_profile import render_flat_profile  # noqa: E402
from ansible_collections.phoneprov.mpp.plugins.module_utils.phone_emulator import Emulator  # noqa: E402

HARD_MAX_PHONES = 5000


def percentile(values, fraction):
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(fraction * (len(ordered) - 1)))))
    return ordered[index]


def mint_phones(directory, count, ca_cert_path, ca_key_path, seed):
    """``count`` phones with their own MAC, ECDSA P-256 client certificate and key."""
    ca_cert = pki.load_certificate(Path(ca_cert_path).read_bytes())
    ca_key = pki.load_private_key(Path(ca_key_path).read_bytes())
    rng = random.Random(seed)
    phones = []
    directory.mkdir(parents=True, exist_ok=True)
    used = set()
    while len(phones) < count:
        mac = '0e08%08x' % rng.getrandbits(32)
        if mac in used:
            continue
        used.add(mac)
        cert, key = pki_lab.issue_client_certificate(ca_cert, ca_key, mac=mac, model='CP-8841-3PCC',
                                                     serial='FCH%08d' % len(phones), key_type='ecc', days=2)
        cert_path, key_path = directory / ('%s.crt' % mac), directory / ('%s.key' % mac)
        pem = pki.certificate_pem(cert)
        cert_path.write_bytes(pem if isinstance(pem, bytes) else pem.encode())
        key_path.write_bytes(pki.private_key_pem(key))
        os.chmod(str(key_path), 0o600)
        phones.append({'mac': mac, 'cert': str(cert_path), 'key': str(key_path)})
    return phones


def profile_for(mac, index):
    return render_flat_profile({
        'Resync_On_Reset': True, 'Resync_Random_Delay': 2, 'Resync_Periodic': 3600,
        'Resync_Error_Retry_Delay': 3600, 'Station_Name': mac, 'Display_Name_1_': 'Phone %d' % index,
        'User_ID_1_': str(10000 + index), 'Password_1_': 'storm-%d' % index, 'Proxy_1_': 'sip.mpp.test',
        'Dial_Plan_1_': '(*xx|[3469]11|0|00|[2-9]xxxxxx|1xxx[2-9]xxxxxxS0|xxxxxxxxxxxx.)',
    })


def _run_slice(job):
    """One generator process: its share of the phones, ``workers`` threads, a common start time."""
    items, url, ca_path, dns_port, start, stop_at, workers, timeout = job
    emulator = Emulator(ca_path=ca_path, nameservers=['127.0.0.1'], dns_port=dns_port, timeout=timeout,
                        dns_cache=False)
    lock = threading.Lock()
    results = []

    def one(item):
        delay, phone = item
        due = start + delay
        now = time.monotonic()
        if now < due:
            time.sleep(due - now)
        began = time.monotonic()
        if began > stop_at:
            outcome = {'behavior': 'not run', 'reason': 'deadline reached before start'}
        else:
            outcome = emulator.resync(url, phone['mac'], client_cert=phone['cert'], client_key=phone['key'])
        ended = time.monotonic()
        with lock:
            results.append({'behavior': outcome['behavior'], 'reason': outcome['reason'], 'lag': began - due,
                            'latency': ended - began, 'ended': ended, 'began': began})

    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, items))
    return results


def storm(server, dns, phones, window, workers, deadline, timeout, seed, processes=1):
    """Start every phone at its random time in [0, window]; ``processes`` generator processes
    (CLOCK_MONOTONIC is shared by all processes, so they keep one schedule) of ``workers`` threads."""
    url = server.url('/cfg/$MA.xml')
    rng = random.Random(seed)
    delays = sorted(((rng.uniform(0, window), phone) for phone in phones), key=lambda item: item[0])
    start = time.monotonic() + 0.5 + 0.5 * processes
    stop_at = start + deadline
    jobs = [(delays[index::processes], url, server.pki.server_ca, dns.port, start, stop_at,
             max(1, workers // processes), timeout) for index in range(processes)]
    if processes == 1:
        return start, _run_slice(jobs[0])
    with multiprocessing.get_context('fork').Pool(processes) as pool:
        parts = pool.map(_run_slice, jobs)
    return start, [item for part in parts for item in part]


def report(args, start, results, setup_seconds):
    ok = [r for r in results if r['behavior'] == 'A']
    failures = {}
    for item in results:
        if item['behavior'] != 'A':
            key = '%s: %s' % (item['behavior'], item['reason'])
            failures[key] = failures.get(key, 0) + 1
    first = min(r['began'] for r in results)
    last = max(r['ended'] for r in results)
    latencies = [r['latency'] for r in ok]
    lags = [r['lag'] for r in results]
    return {
        'phones': len(results), 'window_s': args.window, 'workers': args.workers, 'processes': args.processes,
        'offered_rate_per_s': round(len(results) / args.window, 1) if args.window else None,
        'successes': len(ok), 'failures': sum(failures.values()), 'failures_by_reason': failures,
        'duration_s': round(last - first, 2), 'resyncs_per_s': round(len(ok) / (last - first), 1) if last > first else None,
        'latency_ms': {'p50': _ms(percentile(latencies, 0.5)), 'p90': _ms(percentile(latencies, 0.9)),
                       'p99': _ms(percentile(latencies, 0.99)), 'max': _ms(max(latencies) if latencies else None),
                       'mean': _ms(statistics.mean(latencies) if latencies else None)},
        'start_lag_ms': {'p50': _ms(percentile(lags, 0.5)), 'p99': _ms(percentile(lags, 0.99)), 'max': _ms(max(lags))},
        'setup_s': round(setup_seconds, 1), 'cpus': os.cpu_count(),
    }


def _ms(value):
    return None if value is None else round(value * 1000, 1)


def markdown(rows):
    lines = ['| phones | window s | offered /s | A | failures | resyncs/s | p50 ms | p90 ms | p99 ms | max ms | '
             'start lag p99 ms |', '|---|---|---|---|---|---|---|---|---|---|---|']
    for row in rows:
        lat, lag = row['latency_ms'], row['start_lag_ms']
        lines.append('| %d | %s | %s | %d | %d | %s | %s | %s | %s | %s | %s |' % (
            row['phones'], row['window_s'], row['offered_rate_per_s'], row['successes'], row['failures'],
            row['resyncs_per_s'], lat['p50'], lat['p90'], lat['p99'], lat['max'], lag['p99']))
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--phones', type=int, default=200, help='simulated phones per storm (default 200)')
    parser.add_argument('--window', type=float, default=10.0,
                        help='seconds over which the phones start (the Resync_Random_Delay spread; default 10)')
    parser.add_argument('--workers', type=int, default=48,
                        help='concurrent phones in the generator, over all processes (default 48)')
    parser.add_argument('--processes', type=int, default=1,
                        help='generator processes (default 1; Python threads share one core, use 2 to offer more)')
    parser.add_argument('--storms', type=str, default='',
                        help='several storms in one run on the same server: "phones:window,phones:window"')
    parser.add_argument('--timeout', type=float, default=10.0, help='per-step timeout of each phone (s)')
    parser.add_argument('--deadline', type=float, default=300.0, help='hard limit for each storm (s, max 600)')
    parser.add_argument('--max-phones', type=int, default=HARD_MAX_PHONES)
    parser.add_argument('--seed', type=int, default=8841)
    parser.add_argument('--json', action='store_true', help='print JSON only')
    parser.add_argument('--markdown', type=str, default='', help='append a results table to this file')
    args = parser.parse_args(argv)
    storms = [(args.phones, args.window)]
    if args.storms:
        storms = [(int(p), float(w)) for p, w in (s.split(':') for s in args.storms.split(','))]
    cap = min(args.max_phones, HARD_MAX_PHONES)
    if any(count < 1 or count > cap or window < 0 for count, window in storms):
        parser.error('phones must be 1..%d and window >= 0' % cap)
    if not 1 <= args.processes <= 8:
        parser.error('processes must be 1..8')
    args.deadline = min(args.deadline, 600.0)
    count = max(storm_size for storm_size, _window in storms)
    rows = []
    with tempfile.TemporaryDirectory(prefix='mpp-storm-') as tmp:
        tmp = Path(tmp)
        setup = time.monotonic()
        lab = make_pki(tmp / 'pki', phones=({'mac': '000e08000001'},))
        phones = mint_phones(tmp / 'phones', count, lab.client_ca, str(Path(lab.client_ca).with_suffix('.key')), args.seed)
        dns = DnsServer(tmp / 'dns', {'prov.mpp.test': ['127.0.0.1']})
        try:
            with running_server(tmp / 'server', pki=lab) as server:
                for index, phone in enumerate(phones):
                    server.write_profile(phone['mac'], profile_for(phone['mac'], index))
                setup_seconds = time.monotonic() - setup
                for phones_n, window in storms:
                    args.window = window
                    start, results = storm(server, dns, phones[:phones_n], window, args.workers, args.deadline,
                                           args.timeout, args.seed, args.processes)
                    rows.append(report(args, start, results, setup_seconds))
                    if not args.json:
                        print(json.dumps(rows[-1], indent=1), flush=True)
                    time.sleep(1)
        finally:
            dns.stop()
    if args.json:
        print(json.dumps(rows, indent=1))
    if args.markdown:
        with open(args.markdown, 'a') as handle:
            handle.write('\n' + markdown(rows) + '\n')
    return 0 if all(row['failures'] == 0 for row in rows) else 1


if __name__ == '__main__':
    sys.exit(main())
