#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""Measure how fast the lab CA mints phone client certificates (for the resync-storm benches).

Usage: .venv/bin/python tests/bench/bench_lab_ca.py [--phones 200] [--rsa 40]

Prints one JSON object: certificates per second through the plain Python API
(``pki_lab.issue_client_certificate``, ECC P-256 and RSA 2048 keys) and the wall time of one
``phoneprov.mpp.lab_ca`` task issuing ``--phones`` ECC phones into a client_dir, then of the
idempotent second run (every certificate checked and kept). Local files only, no network.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COLLECTIONS = REPO / '.build' / 'collections'
sys.path.insert(0, str(COLLECTIONS))
sys.path.insert(0, str(REPO / 'tests' / 'integration'))

from ansible_collections.phoneprov.mpp.plugins.module_utils import pki, pki_lab  # noqa: E402  pylint: disable=wrong-import-position
from mpp_harness import playbook_text  # noqa: E402  pylint: disable=wrong-import-position


def api_rate(count, key_type):
    ca_key = pki.generate_private_key('rsa', 2048)
    ca = pki_lab.create_ca_certificate(ca_key, {'CN': 'bench CA'})
    start = time.perf_counter()
    for i in range(count):
        cert, key = pki_lab.issue_client_certificate(ca, ca_key, mac='000e08%06x' % i, key_type=key_type)
        pki.certificate_pem(cert)
        pki.private_key_pem(key)
    elapsed = time.perf_counter() - start
    return round(count / elapsed, 1)


def playbook_time(workdir, phones):
    clients = [{'mac': '000e08%06x' % i, 'model': 'CP-8851-3PCC', 'serial': 'SER%06d' % i} for i in range(phones)]
    (workdir / 'phones').mkdir()
    task = {'name': 'fleet', 'phoneprov.mpp.lab_ca': {
        'path': str(workdir / 'ca'), 'clients': clients, 'client_dir': str(workdir / 'phones'), 'key_type': 'ecc'}}
    (workdir / 'play.yml').write_text(playbook_text([task], name='lab_ca fleet'))
    (workdir / 'inventory.ini').write_text('localhost ansible_connection=local ansible_python_interpreter=%s\n'
                                           % sys.executable)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS), ANSIBLE_NOCOLOR='1')
    cmd = [str(Path(sys.executable).parent / 'ansible-playbook'), '-i', str(workdir / 'inventory.ini'),
           str(workdir / 'play.yml')]
    times = []
    for _run in range(2):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=env, timeout=900)
        times.append(round(time.perf_counter() - start, 2))
    assert len(list((workdir / 'phones').glob('*.crt'))) == phones
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--phones', type=int, default=200)
    parser.add_argument('--rsa', type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix='bench-lab-ca-') as tmp:
        first, second = playbook_time(Path(tmp), args.phones)
    print(json.dumps({
        'api_ecc_p256_certs_per_s': api_rate(args.phones, 'ecc'),
        'api_rsa_2048_certs_per_s': api_rate(args.rsa, 'rsa'),
        'lab_ca_task_phones': args.phones,
        'lab_ca_task_first_run_s': first,
        'lab_ca_task_second_run_s': second,
    }, indent=1))


if __name__ == '__main__':
    main()
