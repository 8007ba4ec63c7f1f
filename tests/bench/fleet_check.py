# -*- coding: utf-8 -*-
"""How fast playbooks/verify.yml checks a fleet: phone_check fleet mode vs one task per phone.

Sets up on loopback only: the provisioning_server role deployed on the system nginx
(tests/integration/provisioning_server_helpers.running_server: client certificates verified,
each phone only its own /cfg/$MA.xml; it takes the system nginx lock, so run as root),
dnsmasq naming prov.mpp.test, N phones with their own ECDSA P-256 client certificates
(resync_storm.mint_phones) and profiles. Then times, with the real ansible-playbook:

  * fleet - playbooks/verify.yml with mpp_phones of N phones (one phone_check task, fleet mode);
  * loop  - one phone_check task per phone (a loop) over the first M phones.

Reports wall-clock seconds and phones/s for both, and the seconds per phone of the loop.
Bounded: N <= 2000, M <= 100, each playbook run limited to 600 s.

    .venv/bin/python tests/bench/fleet_check.py --phones 500 --loop 25
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
sys.path.insert(0, str(REPO / 'tests' / 'integration'))

from mpp_harness import BIN, DnsServer, ansible_env, playbook_text  # noqa: E402  pylint: disable=wrong-import-position
from provisioning_server_helpers import make_pki, running_server  # noqa: E402  pylint: disable=wrong-import-position
from resync_storm import mint_phones  # noqa: E402  pylint: disable=wrong-import-position

PROFILE = '<flat-profile>\n  <Resync_Periodic>3600</Resync_Periodic>\n  <Station_Name>{mac}</Station_Name>\n</flat-profile>\n'
LOOP_TASKS = '''
- name: Resync one phone
  phoneprov.mpp.phone_check:
    url: "https://prov.mpp.test:{{ mpp_server_port }}/cfg/$MA.xml"
    mac: "{{ item.mac }}"
    ca_path: "{{ mpp_verify_ca_path }}"
    client_cert: "{{ mpp_verify_client_cert }}"
    client_key: "{{ mpp_verify_client_key }}"
    nameservers: "{{ mpp_verify_nameservers }}"
    dns_port: "{{ mpp_verify_dns_port }}"
    return_parameters: false
  loop: "{{ mpp_phones[:loop_count | int] }}"
'''


def run(workdir, playbook, extra, inventory):
    vars_file = workdir / ('vars-%d.json' % time.monotonic_ns())
    vars_file.write_text(json.dumps(extra))
    env = ansible_env({'ANSIBLE_STDOUT_CALLBACK': 'ansible.builtin.default'})
    start = time.monotonic()
    proc = subprocess.run([str(BIN / 'ansible-playbook'), '-i', str(inventory), str(playbook), '-e', '@%s' % vars_file],
                          cwd=str(workdir), env=env, capture_output=True, text=True, timeout=600, check=False)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit('playbook %s failed:\n%s\n%s' % (playbook, proc.stdout[-4000:], proc.stderr[-2000:]))
    return elapsed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--phones', type=int, default=500, help='fleet size for verify.yml (default 500, max 2000)')
    parser.add_argument('--loop', type=int, default=25, help='phones for the one-task-per-phone run (max 100)')
    parser.add_argument('--workers', type=int, default=4, help='mpp_verify_workers (default 4)')
    args = parser.parse_args(argv)
    if not 1 <= args.phones <= 2000 or not 1 <= args.loop <= min(100, args.phones):
        parser.error('phones must be 1..2000 and loop 1..min(100, phones)')
    with tempfile.TemporaryDirectory(prefix='mpp-fleet-') as tmp:
        tmp = Path(tmp)
        os.chmod(str(tmp), 0o755)
        lab = make_pki(tmp / 'pki', phones=({'mac': '000e08000001'},))
        minted = mint_phones(tmp / 'phones', args.phones, lab.client_ca, str(Path(lab.client_ca).with_suffix('.key')), seed=8841)
        phones = [{'mac': phone['mac'], 'model': 'CP-8841-3PCC', 'lines': [{'user_id': str(1000 + index)}]}
                  for index, phone in enumerate(minted)]
        inventory = tmp / 'inventory.yml'
        inventory.write_text('all:\n  children:\n    provisioning_servers:\n      hosts:\n        localhost:\n'
                             '          ansible_connection: local\n          ansible_python_interpreter: %s\n'
                             % sys.executable)
        loop_play = tmp / 'loop.yml'
        loop_play.write_text(playbook_text(LOOP_TASKS, name='one phone_check task per phone'))
        dns = DnsServer(tmp / 'dns', {'prov.mpp.test': ['127.0.0.1']})
        try:
            with running_server(tmp / 'server', pki=lab, profiles=dict((phone['mac'], PROFILE.format(mac=phone['mac']))
                                                                       for phone in phones)) as server:
                extra = {'mpp_phones': phones, 'mpp_server_fqdn': server.fqdn, 'mpp_server_port': server.port,
                         'mpp_verify_ca_path': lab.server_ca, 'mpp_verify_client_cert': str(tmp / 'phones' / '$MA.crt'),
                         'mpp_verify_client_key': str(tmp / 'phones' / '$MA.key'), 'mpp_verify_nameservers': ['127.0.0.1'],
                         'mpp_verify_dns_port': dns.port, 'mpp_verify_workers': args.workers, 'loop_count': args.loop}
                fleet = run(tmp, REPO / 'playbooks' / 'verify.yml', extra, inventory)
                loop = run(tmp, loop_play, extra, inventory)
                empty = run(tmp, loop_play, dict(extra, loop_count=0), inventory)
        finally:
            dns.stop()
    result = {
        'fleet_phones': args.phones, 'fleet_seconds': round(fleet, 2), 'fleet_phones_per_s': round(args.phones / fleet, 1),
        'loop_phones': args.loop, 'loop_seconds': round(loop, 2),
        'loop_seconds_per_phone': round((loop - empty) / args.loop, 3),
        'playbook_overhead_seconds': round(empty, 2), 'workers': args.workers,
    }
    print(json.dumps(result, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
