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

Then, each in a fresh Python process (its peak RSS is VmHWM, its CPU time from wait4, forked
readers included):
  1. the backend (module_utils/resync_log.summarise) over the log, with its two readers and with one:
     seconds and peak RSS;
  2. the module itself (plugins/modules/resync_log.py main, as Ansible runs it, its JSON result
     written out), with result_format=rows (as the report runs it) and dict;
  3. the backend over twice the lines with the same phones (memory must not grow with lines);
  4. the backend over the first log with a tenth of the phones (memory grows with phones).
Checks that the summary is right (every phone seen, bad lines counted) and that the module's whole
process with result_format=rows stays under --limit seconds (default 10); exits 1 otherwise. Writes
tests/bench/RESULTS-report.md (section "resync_log"; other sections of that file are kept). Bounded:
at most --lines * 2 lines (at most 5,000,000), all on local disk, removed afterwards; nothing on the
network.

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

# Peak RSS of the process image: VmHWM of /proc/self/status. getrusage's ru_maxrss of a child also
# counts the pages of the parent it was forked from (before exec), here hundreds of MB of generator.
PEAK = "int([line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM:')][0]) / 1024.0"
CHILD = r'''
import json, sys, time
sys.path.insert(0, sys.argv[1])
from ansible_collections.phoneprov.mpp.plugins.module_utils.resync_log import summarise
start, cpu = time.perf_counter(), time.process_time()
result = summarise(sys.argv[2], docroot=sys.argv[3], workers=int(sys.argv[4]))
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
print(json.dumps({'seconds': seconds, 'cpu': cpu, 'rss_mb': %s,
                  'phones': len(result['phones']), 'lines': result['lines'], 'bad_lines': result['bad_lines'],
                  'profiles': len(result['profiles']), 'unidentified': result['unidentified']['count'],
                  'ok': sum(1 for phone in result['phones'].values() if phone['last_ok_time'])}))
''' % PEAK
# What the lines alone cost on this machine now: read (gzip too) and split at '"' (the floor of the
# fast path), or read and json.loads (the cost without it).
FLOOR_CHILD = r'''
import json, sys, time
sys.path.insert(0, sys.argv[1])
from ansible_collections.phoneprov.mpp.plugins.module_utils.resync_log_lines import log_files, open_log
work = json.loads if sys.argv[3] == 'json' else (lambda line: line.split('"'))
start, cpu = time.perf_counter(), time.process_time()
for path, _mtime in log_files(sys.argv[2]):
    handle, _compressed = open_log(path)
    with handle:
        for line in handle:
            try:
                work(line)
            except ValueError:
                pass
print(json.dumps({'seconds': time.perf_counter() - start, 'cpu': time.process_time() - cpu, 'rss_mb': %s}))
''' % PEAK
# The module as Ansible runs it (its file as __main__, the arguments file in argv), then its peak RSS on stderr.
MODULE_CHILD = r'''
import runpy, sys
sys.argv = sys.argv[1:]
try:
    runpy.run_path(sys.argv[0], run_name='__main__')
except SystemExit:
    pass
sys.stderr.write('%%.1f\n' %% (%s))
''' % PEAK


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


def measure(argv, stdout=None, env=None):
    """Run ``argv`` in a child process; (wall seconds, CPU seconds of that child, its stdout, its stderr)."""
    start = time.perf_counter()
    with subprocess.Popen(argv, stdout=stdout or subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as proc:
        out = proc.stdout.read() if stdout is None else ''
        err = proc.stderr.read()
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit('%s failed (rc %s): %s' % (argv[:3], proc.returncode, err[-2000:]))
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime, out, err


def backend_run(log, docroot, workers=2):
    """summarise() in a fresh process; CPU seconds are those of the process and its forked reader."""
    wall, cpu, out, _err = measure([sys.executable, '-c', CHILD, str(COLLECTIONS), str(log), str(docroot), str(workers)])
    figures = json.loads(out)
    figures.update(seconds=wall if workers > 1 else figures['seconds'], cpu=cpu)
    return figures


def module_run(workdir, log, docroot, result_format):
    """The module as Ansible runs it: its file with the arguments file, the collection on PYTHONPATH."""
    args = workdir / 'args.json'
    args.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': {'path': str(log), 'docroot': str(docroot), 'result_format': result_format}}))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (str(COLLECTIONS), os.environ.get('PYTHONPATH')))))
    with open(str(workdir / 'result.json'), 'w') as out:
        wall, cpu, _out, err = measure([sys.executable, '-c', MODULE_CHILD, str(MODULE), str(args)], stdout=out, env=env)
    rss = float(err.strip().splitlines()[-1])
    size = (workdir / 'result.json').stat().st_size
    with open(str(workdir / 'result.json')) as handle:
        result = json.load(handle)
    phones = len(json.loads(result['phone_rows'])) if result_format == 'rows' else len(result.get('phones') or {})
    return {'seconds': wall, 'cpu': cpu, 'rss_mb': rss, 'result_mb': size / 1e6, 'phones': phones,
            'failed': result.get('failed')}


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
    parser.add_argument('--limit', type=float, default=10.0, help='seconds the whole module process may take for --lines (default 10)')
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
    few = max(10, phones // 10)
    docroot, few_docroot = root / 'profiles', root / 'profiles-tenth'
    write_profiles(docroot, phones)
    write_profiles(few_docroot, few)
    rows, problems, floors = [], [], []
    runs = (('backend (two readers)', 'day', phones, lines, docroot), ('backend, twice the lines', 'two-days', phones, lines * 2, docroot),
            ('backend, a tenth of the phones', 'tenth-of-phones', few, lines, few_docroot))
    module_rows = []
    for label, name, fleet, count, profiles in runs:
        log, expected, disk = dataset(root, name, fleet, count)
        figures = backend_run(log, profiles)
        print('%s: %.2f s (CPU %.2f s), peak RSS %.0f MB, %d phones, %d lines, load %.1f'
              % (label, figures['seconds'], figures['cpu'], figures['rss_mb'], figures['phones'], figures['lines'], os.getloadavg()[0]))
        problems += check(label, figures, expected, fleet)
        rows.append((label, figures['lines'], fleet, disk, figures['seconds'], figures['cpu'], figures['rss_mb']))
        if name == 'day':
            one = backend_run(log, profiles, workers=1)
            problems += check('backend, one reader', one, expected, fleet)
            rows.append(('backend, one reader', one['lines'], fleet, disk, one['seconds'], one['cpu'], one['rss_mb']))
            for label, work in (('lines read and split at \'"\' only (the floor)', 'split'), ('lines read and json.loads only', 'json')):
                _wall, _cpu, out, _err = measure([sys.executable, '-c', FLOOR_CHILD, str(COLLECTIONS), str(log), work])
                floor = json.loads(out)
                print('%s: %.2f s (CPU %.2f s)' % (label, floor['seconds'], floor['cpu']))
                floors.append((label, count, fleet, disk, floor['seconds'], floor['cpu'], floor['rss_mb']))
            for result_format in ('rows', 'dict'):
                module = module_run(root, log, profiles, result_format)
                print('module main, result_format=%s: %.2f s (CPU %.2f s), peak RSS %.0f MB, result %.0f MB'
                      % (result_format, module['seconds'], module['cpu'], module['rss_mb'], module['result_mb']))
                if module['failed'] or module['phones'] != phones:
                    problems.append('module (%s): failed=%s, %d phones' % (result_format, module['failed'], module['phones']))
                module_rows.append(('module main, result_format=%s (process start, JSON result %.0f MB written)'
                                    % (result_format, module['result_mb']), lines, phones, disk,
                                    module['seconds'], module['cpu'], module['rss_mb']))
        shutil.rmtree(str(log.parent))
    rows[1:1] = module_rows
    rows.extend(floors)
    if module_rows[0][4] > options.limit:
        problems.append('the module (result_format=rows, as the report runs it) took %.2f s for %d lines, limit %.1f s'
                        % (module_rows[0][4], lines, options.limit))
    return rows, problems


def write_results(options, rows, problems):
    out = Path(options.out)
    text = out.read_text() if out.exists() else '# Fleet report benchmarks\n'
    section = [SECTION, '',
               'Written by `tests/bench/resync_log_bench.py` on %s (%s, %d CPUs, Python %s): a day of the access log'
               % (time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()), platform.platform(), os.cpu_count() or 0, platform.python_version()),
               '(current file, `.1`, `.2.gz`, `.3.gz`) of a fleet of %d phones, about 40,000 resyncs an hour; one profile per' % options.phones,
               'phone in the document root. Each run is a fresh process; peak RSS is its VmHWM (/proc/self/status). The seconds',
               'of the backend are `summarise()` alone; the module\'s are the whole process (start-up, JSON result written).',
               'CPU seconds are the process\'s own (user + system): other work on the machine inflates wall time most',
               '(load average when written: %.1f, %.1f, %.1f).' % os.getloadavg(),
               '',
               '| run | lines | phones | log on disk | seconds | CPU seconds | peak RSS |', '|---|---|---|---|---|---|---|']
    for label, lines, phones, disk, seconds, cpu, rss in rows:
        section.append('| %s | %d | %d | %.0f MB | %.2f s | %.2f s | %.0f MB |' % (label, lines, phones, disk, seconds, cpu, rss))
    verdict = 'met' if not problems else 'NOT MET (%s)' % '; '.join(problems)
    section += ['', 'Limit: the module\'s whole process (result_format=rows, as the report runs it) over %d lines under %.1f s: %s.'
                % (options.lines, options.limit, verdict), '']
    pattern = re.compile(r'^%s\n.*?(?=^## |\Z)' % re.escape(SECTION), re.S | re.M)
    body = '\n'.join(section) + '\n'
    text = pattern.sub(lambda _match: body, text) if pattern.search(text) else text.rstrip('\n') + '\n\n' + body
    out.write_text(text)
    print('written to %s' % out)


if __name__ == '__main__':
    sys.exit(main())
