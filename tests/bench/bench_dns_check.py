#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""Measure the phone's DNS check (module_utils/dns_check) against a real dnsmasq on 127.0.0.1.

Usage: .venv/bin/python tests/bench/bench_dns_check.py [--lookups 500] [--servers 8]

One dnsmasq on a free high loopback port serves one FQDN with ``--servers`` A records and one
AAAA (a scale-out farm). Prints one JSON object: lookups per second and latency (median, p95,
max, milliseconds) of ``resolve_addresses`` (an A and an AAAA query each, a fresh resolver per
call as phone_check and cn_dns_verify use it), of ``check_addresses`` with every server expected,
and of NXDOMAIN answers; then the wall time of one ``phoneprov.mpp.cn_dns_verify`` task. Bounded:
``--lookups`` queries per kind, loopback only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COLLECTIONS = REPO / '.build' / 'collections'
sys.path.insert(0, str(COLLECTIONS))
sys.path.insert(0, str(REPO / 'tests' / 'integration'))

from ansible_collections.phoneprov.mpp.plugins.module_utils import dns_check  # noqa: E402  pylint: disable=wrong-import-position
from cndns_helpers import DnsLab, self_signed  # noqa: E402  pylint: disable=wrong-import-position
from mpp_harness import playbook_text  # noqa: E402  pylint: disable=wrong-import-position

FQDN = 'farm.mpp.test'


def timed(count, call):
    times = []
    for dummy in range(count):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000.0)
    times.sort()
    return {'per_second': round(count / (sum(times) / 1000.0), 1),
            'median_ms': round(statistics.median(times), 2),
            'p95_ms': round(times[int(len(times) * 0.95) - 1], 2),
            'max_ms': round(times[-1], 2)}


def nxdomain(lab):
    try:
        dns_check.resolve_addresses('nothere.mpp.test', [lab.address], lab.port, 2)
    except dns_check.DNSCheckError as exc:
        assert exc.kind == 'NXDOMAIN'
    else:
        raise AssertionError('nothere.mpp.test resolved')


def module_wall_time(workdir, lab, addresses):
    cert = self_signed(workdir, FQDN)[0]
    play = workdir / 'play.yml'
    task = {'name': 'CN DNS check', 'phoneprov.mpp.cn_dns_verify': {
        'certificate_path': str(cert), 'expected_addresses': addresses, 'nameservers': [lab.address], 'dns_port': lab.port}}
    play.write_text(playbook_text([task], name='cn_dns_verify once'))
    env = {'ANSIBLE_COLLECTIONS_PATH': str(COLLECTIONS), 'PATH': '%s:/usr/bin:/bin:/usr/sbin' % Path(sys.executable).parent,
           'ANSIBLE_LOCALHOST_WARNING': 'false', 'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'false'}
    start = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
                    '-e', 'ansible_python_interpreter=%s' % sys.executable, str(play)],
                   check=True, capture_output=True, env=env, timeout=300)
    return round(time.perf_counter() - start, 2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--lookups', type=int, default=500)
    parser.add_argument('--servers', type=int, default=8)
    args = parser.parse_args()
    lookups = max(1, min(args.lookups, 5000))
    addresses = ['127.0.1.%d' % (i + 1) for i in range(max(1, min(args.servers, 200)))] + ['fd00::1']
    with tempfile.TemporaryDirectory() as tmp:
        lab = DnsLab(Path(tmp) / 'dns', {FQDN: addresses})
        try:
            assert dns_check.resolve_addresses(FQDN, [lab.address], lab.port, 2) == dns_check.sort_addresses(addresses)
            result = {
                'lookups': lookups,
                'records': len(addresses),
                'resolve_addresses': timed(lookups, lambda: dns_check.resolve_addresses(FQDN, [lab.address], lab.port, 2)),
                'check_addresses': timed(lookups, lambda: dns_check.check_addresses(FQDN, addresses, [lab.address],
                                                                                    lab.port, 2)),
                'nxdomain': timed(lookups, lambda: nxdomain(lab)),
                'cn_dns_verify_task_wall_s': module_wall_time(Path(tmp), lab, addresses),
            }
        finally:
            lab.stop()
    print(json.dumps(result, indent=1))


if __name__ == '__main__':
    main()
