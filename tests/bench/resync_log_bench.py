# -*- coding: utf-8 -*-
"""Benchmark of phoneprov.mpp.resync_log: a day of a big fleet's access log, parsed on this machine.

Generates, in a temporary directory, the log role provisioning_server writes (nginx log format
mpp_json, field order and escaping as nginx writes them, times with a +01:00 offset) for a fleet
of --phones phones (default 100,000) of which about 40,000 resync each hour: --lines lines
(default 1,000,000) spread over a day, in the current file, .1 and the gzipped .2.gz and .3.gz
(logrotate's names). Most answers are 200; some phones ask for another phone's file (403) or a
missing one (404), some meet maintenance (503), some use the generic certificate or none, a few
User-Agents hold escaped quotes, a few lines are cut short. The document root holds one profile
per phone.

Then, each in a fresh Python process (so that its peak RSS is its own, getrusage):
  1. the backend (module_utils/resync_log.summarise) over the log: seconds and peak RSS;
  2. the same over twice the lines with the same phones (memory must not grow with lines);
  3. the same over the first log with a tenth of the phones (memory grows with phones);
  4. the module itself (plugins/modules/resync_log.py main, as Ansible runs it, its JSON result
     written out): seconds and peak RSS.
Checks that the summary is right (every phone seen, bad lines counted) and that run 1 stays under
--limit seconds (default 10); exits 1 otherwise. Writes tests/bench/RESULTS-report.md (section
"resync_log"; other sections of that file are kept). Bounded: at most --lines * 2 lines
(at most 5,000,000), all on local disk, removed afterwards; nothing on the network.

    .venv/bin/python tests/bench/resync_log_bench.py [--phones 100000] [--lines 1000000]
        [--limit 10] [--out tests/bench/RESULTS-report.md] [--keep DIR]
"""

from __future__ import annotations

import argparse
import calendar
import gzip
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COLLECTIONS = REPO / '.build' / 'collections'
MODULE = REPO / 'plugins' / 'modules' / 'resync_log.py'
MAX_LINES = 5000000
SECTION = '## resync_log'
# Exactly the field order of log_format mpp_json (roles/provisioning_server/templates/http.conf.j2).
LINE = ('{"time":"%s","remote_addr":"%s","mac":"%s","serial":"%s","cert_model":"%s","generic":%s,"model":"%s",'
        '"firmware":"%s","ua_mac":"%s","ua_serial":"","user_agent":"%s","method":"GET","file":"%s","request":"%s",'
        '"status":%d,"bytes":%d,"request_time":%s,"client_verify":"%s","subject":"%s","tls":"TLSv1.3",'
        '"cipher":"TLS_AES_256_GCM_SHA384"}\n')
# Oldest first: how the day's lines are split over the files.
FILES = (('mpp-access.log.3.gz', 0.30), ('mpp-access.log.2.gz', 0.30), ('mpp-access.log.1', 0.25), ('mpp-access.log', 0.15))

CHILD = r'''
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from ansible_collections.phoneprov.mpp.plugins.module_utils.resync_log import summarise
start = time.perf_counter()
result = summarise(sys.argv[2], docroot=sys.argv[3])
seconds = time.perf_counter() - start
print(json.dumps({'seconds': seconds, 'rss_kb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  'phones': len(result['phones']), 'lines': result['lines'], 'bad_lines': result['bad_lines'],
                  'profiles': len(result['profiles']), 'unidentified': result['unidentified']['count'],
                  'ok': sum(1 for phone in result['phones'].values() if phone['last_ok_time'])}))
'''


def mac_of(index):
    return '00562b%06x' % index


def generate(directory, phones, lines, seed=14):
    """Write the log files into ``directory``; returns the counts the summary must show."""
    rng = random.Random(seed)
    expected = {'lines': lines, 'bad_lines': 0, 'unidentified': 0}
    start = calendar.timegm((2026, 12, 1, 0, 0, 0, 0, 0, 0))
    models = ('CP-8841-3PCC', 'CP-7841-3PCC', 'CP-8851-3PCC', 'CP-6841-3PCC')
    firmwares = ('12.0.1', '12.0.2', '11.3.7')
    written = 0
    for name, share in FILES:
        count = lines - written if name == FILES[-1][0] else int(lines * share)
        opener = gzip.open if name.endswith('.gz') else open
        with opener(str(directory / name), 'wt', encoding='utf-8') as handle:
            chunk = []
            for number in range(written, written + count):
                # 1,000,000 lines a day (41,667 an hour, each from the next phone of the fleet), local time +01:00.
                stamp = time.strftime('%Y-%m-%dT%H:%M:%S+01:00', time.gmtime(start + 3600 + number * 86400 // 1000000))
                phone = number % phones
                chunk.append(_line(rng, expected, stamp, phone, phones, models, firmwares))
                if len(chunk) >= 10000:
                    handle.write(''.join(chunk))
                    chunk = []
            handle.write(''.join(chunk))
        written += count
    return expected


def _line(rng, expected, stamp, phone, phones, models, firmwares):
    mac = mac_of(phone)
    model, firmware = models[phone % len(models)], firmwares[phone % len(firmwares)]
    ua_mac = mac.upper()
    user_agent = 'Cisco-%s/%s (%s)' % (model, firmware, ua_mac)
    cert_mac, generic, verify, status = mac, 'false', 'SUCCESS', 200
    requested = '/cfg/%s.xml' % mac
    roll = rng.random()
    if roll < 0.01:
        requested, status = '/cfg/%s.xml' % mac_of((phone + 1) % phones), 403
    elif roll < 0.02:
        status = 404
    elif roll < 0.025:
        status = 503
    elif roll < 0.028:
        cert_mac, generic, status = '', 'true', 403
    elif roll < 0.030:
        cert_mac, verify, status = '', 'NONE', 400
    elif roll < 0.031:
        cert_mac, ua_mac, verify, status, requested = '', '', 'NONE', 400, '/'
        user_agent = 'curl/8.5.0 \\"probe\\"'
        expected['unidentified'] += 1
    elif roll < 0.032:
        user_agent = 'Cisco-%s/%s (%s) \\"lab\\" \\\\x' % (model, firmware, ua_mac)
    text = LINE % (stamp, '10.%d.%d.%d' % (phone >> 16 & 255, phone >> 8 & 255, phone & 255), cert_mac, 'FCH%07d' % phone,
                   model if cert_mac else '', generic, model, firmware, ua_mac, user_agent, requested, requested, status,
                   2048 if status == 200 else 0, '0.00%d' % (phone % 10), verify,
                   'ST=%s,L=FCH%07d,OU=%s' % (cert_mac, phone, model) if cert_mac else '')
    if roll > 0.9999:
        expected['bad_lines'] += 1
        return text[:len(text) // 2] + '\n'
    return text


def write_profiles(docroot, phones):
    docroot.mkdir(parents=True, exist_ok=True)
    body = '<flat-profile><Resync_Periodic>3600</Resync_Periodic></flat-profile>\n'
    for index in range(phones):
        (docroot / ('%s.xml' % mac_of(index))).write_text(body)


def measure(argv, stdout=None):
    """Run ``argv`` in a child process; (wall seconds, peak RSS in MB of that child, its stdout)."""
    start = time.perf_counter()
    with subprocess.Popen(argv, stdout=stdout or subprocess.PIPE, text=True) as proc:  # noqa: S603
        out = proc.stdout.read() if stdout is None else ''
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit('%s failed (rc %s)' % (argv[:3], proc.returncode))
    return time.perf_counter() - start, usage.ru_maxrss / 1024.0, out


def backend_run(log, docroot):
    _wall, rss, out = measure([sys.executable, '-c', CHILD, str(COLLECTIONS), str(log), str(docroot)])
    figures = json.loads(out)
    figures['rss_mb'] = rss
    return figures


def module_run(workdir, log, docroot):
    args = workdir / 'args.json'
    args.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': {'path': str(log), 'docroot': str(docroot)}}))
    env_path = os.environ.get('PYTHONPATH')
    os.environ['PYTHONPATH'] = str(COLLECTIONS) + (os.pathsep + env_path if env_path else '')
    try:
        with open(str(workdir / 'result.json'), 'w') as out:
            wall, rss, _out = measure([sys.executable, str(MODULE), str(args)], stdout=out)
    finally:
        if env_path is None:
            del os.environ['PYTHONPATH']
        else:
            os.environ['PYTHONPATH'] = env_path
    size = (workdir / 'result.json').stat().st_size
    with open(str(workdir / 'result.json')) as handle:
        result = json.load(handle)
    return {'seconds': wall, 'rss_mb': rss, 'result_mb': size / 1e6, 'phones': len(result['phones']), 'failed': result.get('failed')}


def check(label, figures, expected, phones):
    problems = []
    if figures['lines'] != expected['lines']:
        problems.append('%s: %d lines read, %d written' % (label, figures['lines'], expected['lines']))
    if figures['bad_lines'] != expected['bad_lines']:
        problems.append('%s: %d bad lines counted, %d written' % (label, figures['bad_lines'], expected['bad_lines']))
    if figures['phones'] != phones:
        problems.append('%s: %d phones seen, %d in the fleet' % (label, figures['phones'], phones))
    if figures['unidentified'] != expected['unidentified']:
        problems.append('%s: %d unidentified lines, %d written' % (label, figures['unidentified'], expected['unidentified']))
    return problems


def dataset(root, name, phones, lines):
    directory = root / name
    directory.mkdir()
    start = time.perf_counter()
    expected = generate(directory, phones, lines)
    size = sum(path.stat().st_size for path in directory.iterdir()) / 1e6
    print('%s: %d lines of %d phones written (%.0f MB on disk) in %.1f s' % (name, lines, phones, size, time.perf_counter() - start))
    return directory / 'mpp-access.log', expected, size


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0],
                                     epilog='Bounds: at most %d lines, local disk only, temporary files removed.' % MAX_LINES)
    parser.add_argument('--phones', type=int, default=100000, help='phones in the fleet (default 100,000)')
    parser.add_argument('--lines', type=int, default=1000000, help='log lines of the day (default 1,000,000; at most %d)' % (MAX_LINES // 2))
    parser.add_argument('--limit', type=float, default=10.0, help='seconds the backend may take for --lines (default 10)')
    parser.add_argument('--out', default=str(REPO / 'tests' / 'bench' / 'RESULTS-report.md'))
    parser.add_argument('--keep', help='generate into this directory and keep it')
    options = parser.parse_args()
    if options.lines * 2 > MAX_LINES or options.lines < 1 or options.phones < 10:
        parser.error('--lines must be 1-%d and --phones at least 10' % (MAX_LINES // 2))
    if not (COLLECTIONS / 'ansible_collections' / 'phoneprov' / 'mpp').exists():
        parser.error('%s missing: run make setup first' % COLLECTIONS)
    root = Path(options.keep or tempfile.mkdtemp(prefix='resync-log-bench-'))
    root.mkdir(parents=True, exist_ok=True)
    try:
        rows, problems = run_all(root, options)
    finally:
        if not options.keep:
            shutil.rmtree(str(root), ignore_errors=True)
    write_results(options, rows, problems)
    for problem in problems:
        print('FAIL: ' + problem)
    return 1 if problems else 0


def run_all(root, options):
    phones, lines = options.phones, options.lines
    docroot = root / 'profiles'
    write_profiles(docroot, phones)
    rows, problems = [], []
    log, expected, size = dataset(root, 'day', phones, lines)
    runs = [('backend', log, expected, phones, size)]
    log2, expected2, size2 = dataset(root, 'two-days', phones, lines * 2)
    runs.append(('backend, twice the lines', log2, expected2, phones, size2))
    few = max(10, phones // 10)
    log3, expected3, size3 = dataset(root, 'tenth-of-phones', few, lines)
    runs.append(('backend, a tenth of the phones', log3, expected3, few, size3))
    for label, path, want, fleet, disk in runs:
        figures = backend_run(path, docroot)
        print('%s: %.2f s, peak RSS %.0f MB, %d phones, %d lines' % (label, figures['seconds'], figures['rss_mb'], figures['phones'], figures['lines']))
        problems += check(label, figures, want, fleet)
        rows.append((label, figures['lines'], fleet, disk, figures['seconds'], figures['rss_mb'], ''))
    shutil.rmtree(str(log2.parent))
    module = module_run(root, log, docroot)
    print('module main: %.2f s, peak RSS %.0f MB, result %.0f MB' % (module['seconds'], module['rss_mb'], module['result_mb']))
    if module['failed'] or module['phones'] != phones:
        problems.append('module: failed=%s, %d phones' % (module['failed'], module['phones']))
    rows.append(('module main (process start, JSON result %.0f MB)' % module['result_mb'], lines, phones, size,
                 module['seconds'], module['rss_mb'], ''))
    if rows[0][4] > options.limit:
        problems.append('backend took %.2f s for %d lines, limit %.1f s' % (rows[0][4], lines, options.limit))
    return rows, problems


def write_results(options, rows, problems):
    out = Path(options.out)
    text = out.read_text() if out.exists() else '# Fleet report benchmarks\n'
    section = [SECTION, '',
               'Written by `tests/bench/resync_log_bench.py` on %s (%s, %d CPUs, Python %s): a day of the access log'
               % (time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()), platform.platform(), os.cpu_count() or 0, platform.python_version()),
               '(current file, `.1`, `.2.gz`, `.3.gz`) of a fleet of %d phones, about 40,000 resyncs an hour; one profile per' % options.phones,
               'phone in the document root. Each run is a fresh process; peak RSS is that process\'s (getrusage). The seconds',
               'of the backend are `summarise()` alone; the module\'s are the whole process (start-up, JSON result written).',
               '',
               '| run | lines | phones | log on disk | seconds | peak RSS |', '|---|---|---|---|---|---|']
    for label, lines, phones, disk, seconds, rss, _note in rows:
        section.append('| %s | %d | %d | %.0f MB | %.2f s | %.0f MB |' % (label, lines, phones, disk, seconds, rss))
    section += ['', 'Limit: the backend over %d lines under %.1f s: %s.' % (options.lines, options.limit,
                                                                       'met' if not problems else 'NOT MET (' + '; '.join(problems) + ')'), '']
    pattern = re.compile(r'^%s\n.*?(?=^## |\Z)' % re.escape(SECTION), re.S | re.M)
    body = '\n'.join(section) + '\n'
    text = pattern.sub(lambda _match: body, text) if pattern.search(text) else text.rstrip('\n') + '\n\n' + body
    out.write_text(text)
    print('written to %s' % out)


if __name__ == '__main__':
    sys.exit(main())
