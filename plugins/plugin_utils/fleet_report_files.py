# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report's files on the controller: JSON, HTML and the optional Prometheus textfile.

Idempotent: ``generated`` is the time the report's *content* last changed. When the new report
equals the one in ``fleet-report.json`` but for ``generated``, the old time is kept, so every file
renders to the same bytes and nothing is written (``changed`` false). Each file is written
atomically (temporary file in the same directory, mode 0644, rename): a node_exporter or a browser
reads the old file or the new one, never a part. The report holds no secret (no profile, key or
password: only what the access log and the document root's stat data say), hence 0644.
"""

from __future__ import annotations

import datetime
import json
import os

from ansible_collections.phoneprov.mpp.plugins.module_utils.files import atomic_write, read_bytes
from ansible_collections.phoneprov.mpp.plugins.plugin_utils.fleet_report import STATES, render_json, render_prometheus
from ansible_collections.phoneprov.mpp.plugins.plugin_utils.fleet_report_html import render_html

JSON_NAME = 'fleet-report.json'
HTML_NAME = 'fleet-report.html'
FILE_MODE = 0o644
DIR_MODE = 0o755


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S+00:00')


def previous_report(path):
    """The report dict in ``path``, or None when there is none or it is unreadable."""
    content = read_bytes(path)
    if content is None:
        return None
    try:
        report = json.loads(content.decode('utf-8'))
    except ValueError:
        return None
    return report if isinstance(report, dict) else None


def _same_content(old, new):
    if old is None:
        return False
    # Round-trip the new report through JSON so that tuples, int keys and floats compare as stored.
    return _without_generated(old) == _without_generated(json.loads(render_json(new)))


def _without_generated(report):
    return dict((key, value) for key, value in report.items() if key != 'generated')


def plan_files(report, dest, prometheus='', max_phones=1000, now=None):
    """``(files, previous)``: ``files`` [(path, bytes)] to publish; ``report['generated']`` is set."""
    json_path = os.path.join(dest, JSON_NAME)
    previous = previous_report(json_path)
    if _same_content(previous, report) and previous.get('generated'):
        report['generated'] = previous['generated']
    else:
        report['generated'] = now or utc_now()
    files = [(json_path, render_json(report).encode('utf-8')),
             (os.path.join(dest, HTML_NAME), render_html(report, max_phones=max_phones).encode('utf-8'))]
    if prometheus:
        files.append((prometheus, render_prometheus(report).encode('utf-8')))
    return files, previous


def changed_files(files):
    """The paths among ``files`` whose content differs from what is on disk."""
    return [path for path, content in files if read_bytes(path) != content]


def write_files(files, dest):
    """Create ``dest`` (0755) when missing and write the changed ``files``; the paths written."""
    if not os.path.isdir(dest):
        os.makedirs(dest, DIR_MODE)
    written = []
    for path, content in files:
        if read_bytes(path) == content:
            continue
        atomic_write(path, content, FILE_MODE)
        written.append(path)
    return written


def counts_diff(previous, report):
    """A diff of the counts (before: the report on disk), for ``--diff``."""
    def text(counts):
        return ''.join('%s: %s\n' % (state, counts.get(state, 0)) for state in STATES)
    before = text(previous.get('counts', {})) if previous else ''
    return {'before_header': 'counts (%s)' % (previous.get('generated') if previous else 'no report yet'),
            'after_header': 'counts (%s)' % report['generated'], 'before': before, 'after': text(report['counts'])}
