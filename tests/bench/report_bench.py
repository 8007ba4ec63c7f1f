# -*- coding: utf-8 -*-
"""Benchmark of the fleet report (phoneprov.mpp.fleet_report) for a large fleet.

Synthetic resync_log results of the agreed shape for N phones (default 100,000) on S servers
(default 2): 94 % current, 3 % stale (profile republished after the fetch), 2 % failing (403, 404,
503), 1 % never seen, plus 0.1 % unknown MACs, each phone's requests split over the servers.
Measured, in this process: the states (build_report), fleet-report.json, fleet-report.html and
the Prometheus textfile, with peak RSS; then a smaller fleet (--playbook-phones, default 10,000)
through real ansible-playbook on localhost (the action plugin, fleet and results read from JSON
extra-vars files) twice, and a baseline playbook that only loads and templates the same extra vars
once: what Ansible itself costs for that much data. Wall times. Writes a Markdown table.

    .venv/bin/python tests/bench/report_bench.py [--phones 100000] [--servers 2] [--playbook-phones 10000]
        [--out tests/bench/RESULTS-fleet-report.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
COLLECTIONS = REPO / '.build' / 'collections'
sys.path.insert(0, str(COLLECTIONS))

from ansible_collections.phoneprov.mpp.plugins.plugin_utils.fleet_report import (  # noqa: E402 pylint: disable=wrong-import-position
    build_report, epoch, iso, render_json, render_prometheus)
from ansible_collections.phoneprov.mpp.plugins.plugin_utils.fleet_report_html import render_html  # noqa: E402

PUSH = epoch('2026-12-02T10:00:00Z')
PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Build the fleet report
      phoneprov.mpp.fleet_report:
        fleet: "{{ bench_fleet }}"
        results: "{{ bench_results }}"
        dest: "{{ bench_dest }}"
        prometheus: "{{ bench_dest }}/mpp.prom"
      register: report
    - name: Counts
      ansible.builtin.debug:
        var: report.counts
"""
# What Ansible alone costs for the same extra vars: load them, template them once.
BASELINE = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Count
      ansible.builtin.debug:
        msg: "{{ bench_results | length }} servers, {{ bench_fleet | length }} phones"
"""


def synthetic(phones, servers):
    """(fleet, {server: resync_log result})."""
    names = ['prov%d' % (n + 1) for n in range(servers)]
    results = dict((name, {'phones': {}, 'profiles': {}, 'unidentified': {'count': 10, 'generic': 3, 'none': 7, 'statuses': {'403': 10}},
                           'per_hour': {}, 'statuses': {}, 'files': ['/var/log/nginx/mpp-access.log'], 'lines': 0, 'bad_lines': 0,
                           'first_time': iso(PUSH - 86400), 'last_time': iso(PUSH + 3600)}) for name in names)
    fleet = []
    for n in range(phones + phones // 1000):
        ma = '0a%010x' % n
        if n < phones:
            fleet.append({'mac': ma, 'model': ('CP-8841-3PCC', 'CP-7841-3PCC', 'CP-8851-3PCC')[n % 3]})
        server = results[names[n % servers]]
        for result in results.values():
            result['profiles'][ma] = {'mtime': PUSH + (n % 600), 'time': iso(PUSH + (n % 600)), 'size': 2048, 'etag': '"x"'}
        bucket = n % 100
        if bucket == 99 and n < phones:
            continue  # never seen
        when = PUSH + 600 + (n % 3000)
        status, ok = 200, when
        if bucket in (97, 98):
            status = (403, 404, 503)[n % 3]
            ok = when - 7200
        elif bucket in (94, 95, 96):
            ok = when = PUSH - 100  # fetched before the push: stale
        server['phones'][ma] = {
            'count': 24, 'last_time': iso(when), 'last_status': status, 'last_behavior': None, 'last_reason': None,
            'last_file': '/cfg/%s.xml' % ma, 'last_ok_time': iso(ok), 'last_ok_file': '/cfg/%s.xml' % ma, 'ok_count': 23,
            'model': None, 'firmware': ('12.0.1', '12.0.2', '11.3.7')[n % 3], 'cert_kind': 'generic' if n % 5000 == 0 else 'unique',
            'remote_addr': '10.%d.%d.%d' % (n >> 16 & 255, n >> 8 & 255, n & 255), 'tls': 'TLSv1.2', 'cipher': 'ECDHE-RSA-AES256-GCM-SHA384'}
        hour = iso(when)[:13]
        server['per_hour'][hour] = server['per_hour'].get(hour, 0) + 24
        server['statuses'][str(status)] = server['statuses'].get(str(status), 0) + 24
        server['lines'] += 24
    return fleet, results


def timed(what, func, rows):
    start = time.perf_counter()
    value = func()
    rows.append((what, time.perf_counter() - start))
    return value


def in_process(phones, servers):
    rows = []
    fleet, results = synthetic(phones, servers)
    report = timed('states (build_report)', lambda: build_report(fleet, results, generated='2026-12-02T12:00:00Z'), rows)
    text = timed('fleet-report.json', lambda: render_json(report), rows)
    page = timed('fleet-report.html (1000 phones listed)', lambda: render_html(report), rows)
    timed('Prometheus textfile', lambda: render_prometheus(report), rows)
    rows.append(('total', sum(seconds for _what, seconds in rows)))
    return report, rows, {'json': len(text), 'html': len(page)}


def through_playbook(fleet, results):
    """[(what, seconds, changed)] of ansible-playbook runs: the report twice, then the baseline."""
    with tempfile.TemporaryDirectory(prefix='mpp-report-bench-') as work:
        work = Path(work)
        (work / 'fleet.json').write_text(json.dumps({'bench_fleet': fleet}))
        (work / 'results.json').write_text(json.dumps({'bench_results': results}))
        (work / 'play.yml').write_text(PLAYBOOK)
        (work / 'baseline.yml').write_text(BASELINE)
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS), ANSIBLE_PYTHON_INTERPRETER=str(BIN / 'python'))
        runs = []
        for what, play in (('report, first run', 'play.yml'), ('report, rerun with the same input', 'play.yml'),
                           ('baseline: the same extra vars, one debug task', 'baseline.yml')):
            cmd = [str(BIN / 'ansible-playbook'), '-i', 'localhost,', '-c', 'local', str(work / play),
                   '-e', '@%s' % (work / 'fleet.json'), '-e', '@%s' % (work / 'results.json'), '-e', 'bench_dest=%s' % (work / 'out')]
            start = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800, check=False)
            seconds = time.perf_counter() - start
            if proc.returncode != 0:
                raise SystemExit('ansible-playbook failed:\n%s\n%s' % (proc.stdout[-3000:], proc.stderr[-3000:]))
            runs.append((what, seconds, 'changed=1' in proc.stdout))
        return runs


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--phones', type=int, default=100000)
    parser.add_argument('--servers', type=int, default=2)
    parser.add_argument('--playbook-phones', type=int, default=10000,
                        help='phones of the ansible-playbook runs (0: none); Ansible loading the extra vars dominates them')
    parser.add_argument('--out', default=str(REPO / 'tests' / 'bench' / 'RESULTS-fleet-report.md'))
    args = parser.parse_args()
    if not 1 <= args.phones <= 1000000 or not 1 <= args.servers <= 20 or not 0 <= args.playbook_phones <= 100000:
        parser.error('--phones 1..1000000, --servers 1..20, --playbook-phones 0..100000')
    report, rows, sizes = in_process(args.phones, args.servers)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    command = ' '.join(['tests/bench/report_bench.py'] + sys.argv[1:])
    lines = ['# Fleet report benchmark', '',
             '%s, Python %s, %d CPUs; `%s`' % (platform.platform(), platform.python_version(), os.cpu_count(), command), '',
             '%d phones in the fleet, %d servers; counts %s' % (args.phones, args.servers, json.dumps(report['counts'])), '',
             '| step (in process) | seconds |', '|---|---|']
    lines += ['| %s | %.2f |' % (what, seconds) for what, seconds in rows]
    lines += ['', 'fleet-report.json %.1f MB, fleet-report.html %.0f kB; peak RSS of the process (synthetic input included) %.0f MB'
              % (sizes['json'] / 1e6, sizes['html'] / 1e3, rss)]
    if args.playbook_phones:
        import ansible.release  # pylint: disable=import-outside-toplevel
        runs = through_playbook(*synthetic(args.playbook_phones, args.servers)[:2])
        lines += ['', '| ansible-playbook (ansible-core %s) on localhost, %d phones, fleet and results as JSON extra vars | seconds | changed |'
                  % (ansible.release.__version__, args.playbook_phones), '|---|---|---|']
        lines += ['| %s | %.1f | %s |' % run for run in runs]
    text = '\n'.join(lines) + '\n'
    Path(args.out).write_text(text)
    print(text)


if __name__ == '__main__':
    main()
