# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``fleet-report.html``: the fleet report (plugin_utils/fleet_report.py) as one self-contained page.

No script, no external font, style sheet or image: inline CSS and inline SVG charts (states,
firmware versions, requests per hour), so a browser opens it from disk and a mail client or a
CI artefact viewer shows the same. Every value from the logs or the fleet is HTML-escaped: a
User-Agent, a file name or a model is attacker-chosen text. Python writes the page (no Jinja):
a 100,000-phone report renders in well under a second; the phones table lists the phones
that are not current, at most ``max_phones`` of them, and says how many it left out.
"""

from __future__ import annotations

from html import escape

from ansible_collections.phoneprov.mpp.plugins.plugin_utils.fleet_report import CURRENT, STATES

COLOURS = {'current': '#2e7d32', 'stale': '#f9a825', 'failing': '#c62828', 'never_seen': '#757575', 'unknown': '#6a1b9a'}
LABELS = {'current': 'current', 'stale': 'stale', 'failing': 'failing', 'never_seen': 'never seen', 'unknown': 'unknown'}
# Phones table order: what needs attention first.
TABLE_ORDER = ('failing', 'stale', 'unknown', 'never_seen')
MAX_BARS = 12
MAX_HOURS = 72
PHONE_COLUMNS = (('MAC', None), ('state', 'state'), ('server', 'server'), ('last request', 'last_time'),
                 ('status', 'last_status'), ('behaviour', 'behavior'), ('reason', 'reason'), ('model', 'model'),
                 ('firmware', 'firmware'), ('certificate', 'cert_kind'), ('last good fetch', 'last_ok_time'),
                 ('profile published', 'profile_time'), ('from', 'remote_addr'))

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5em;color:#212121;background:#fafafa}
h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.15em;margin:1.6em 0 .5em}
.meta{color:#555;margin:0 0 1em}.tiles{display:flex;flex-wrap:wrap;gap:.8em}
.tile{background:#fff;border-left:6px solid #999;padding:.5em .9em;min-width:8em;box-shadow:0 1px 2px #0002}
.tile .n{display:block;font-size:1.8em;font-weight:600}
table{border-collapse:collapse;background:#fff;font-size:.85em}th,td{border:1px solid #ddd;padding:.25em .5em;text-align:left}
th{background:#eee}td.num{text-align:right}.note{color:#555;font-style:italic}
.charts{display:flex;flex-wrap:wrap;gap:1.5em}.chart{background:#fff;padding:.5em;box-shadow:0 1px 2px #0002}
svg text{font-size:11px;fill:#333}
"""


def _text(value):
    return escape('-' if value is None or value == '' else str(value), quote=True)


def _bar_chart(title, rows, colour=None, width=460):
    """Horizontal bars: ``rows`` [(label, value, colour or None)]."""
    bar_height, label_width = 20, 150
    height = bar_height * len(rows) + 30
    biggest = max([value for _label, value, _c in rows] + [1])
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" aria-label="%s">'
             % (width, height, _text(title)), '<text x="0" y="14" font-weight="600">%s</text>' % _text(title)]
    for row, (label, value, row_colour) in enumerate(rows):
        y = 24 + row * bar_height
        length = int((width - label_width - 60) * value / biggest)
        parts.append('<text x="0" y="%d">%s</text>' % (y + 13, _text(str(label)[:40])))
        parts.append('<rect x="%d" y="%d" width="%d" height="%d" fill="%s"><title>%s: %d</title></rect>'
                     % (label_width, y + 2, max(length, 1), bar_height - 5, row_colour or colour or '#1565c0', _text(label), value))
        parts.append('<text x="%d" y="%d">%d</text>' % (label_width + length + 4, y + 13, value))
    parts.append('</svg>')
    return '<div class="chart">%s</div>' % ''.join(parts)


def _hour_chart(per_hour, width=760, height=180):
    """Columns of requests per hour (the last MAX_HOURS hours of the logs)."""
    hours = sorted(per_hour.items())[-MAX_HOURS:]
    title = 'Requests per hour (UTC%s)' % (', last %d hours' % MAX_HOURS if len(per_hour) > MAX_HOURS else '')
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" aria-label="%s">'
             % (width, height, _text(title)), '<text x="0" y="14" font-weight="600">%s</text>' % _text(title)]
    if not hours:
        parts.append('<text x="0" y="40">no requests logged</text></svg>')
        return '<div class="chart">%s</div>' % ''.join(parts)
    biggest = max(value for _hour, value in hours) or 1
    plot_top, plot_bottom, left = 24, height - 24, 50
    step = float(width - left) / len(hours)
    parts.append('<text x="0" y="%d">%d</text><text x="0" y="%d">0</text>' % (plot_top + 10, biggest, plot_bottom))
    for column, (hour, value) in enumerate(hours):
        column_height = int((plot_bottom - plot_top) * value / biggest)
        x = left + column * step
        parts.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="#1565c0"><title>%s: %d</title></rect>'
                     % (x, plot_bottom - column_height, max(step - 1, 1), max(column_height, 1), _text(hour), value))
    parts.append('<text x="%d" y="%d">%s</text>' % (left, height - 6, _text(hours[0][0])))
    parts.append('<text x="%d" y="%d" text-anchor="end">%s</text>' % (width, height - 6, _text(hours[-1][0])))
    parts.append('</svg>')
    return '<div class="chart">%s</div>' % ''.join(parts)


def _firmware_rows(by_firmware):
    ordered = sorted(by_firmware.items(), key=lambda item: (-item[1]['total'], item[0]))
    rows = [(name, row['total'], None) for name, row in ordered[:MAX_BARS]]
    rest = sum(row['total'] for _name, row in ordered[MAX_BARS:])
    if rest:
        rows.append(('%d other versions' % (len(ordered) - MAX_BARS), rest, '#90a4ae'))
    return rows


def _model_firmware_rows(firmware_by_model):
    return dict(('%s %s' % (model, firmware), row) for model, versions in firmware_by_model.items() for firmware, row in versions.items())


def _table(headers, rows):
    head = ''.join('<th>%s</th>' % _text(name) for name in headers)
    body = ''.join('<tr>%s</tr>' % ''.join(cell for cell in row) for row in rows)
    return '<table><thead><tr>%s</tr></thead><tbody>%s</tbody></table>' % (head, body)


def _cell(value, numeric=False):
    return '<td%s>%s</td>' % (' class="num"' if numeric else '', _text(value))


def _state_table(title, table):
    rows = [[_cell(name)] + [_cell(row[state], True) for state in STATES] + [_cell(row['total'], True)]
            for name, row in sorted(table.items(), key=lambda item: (-item[1]['total'], item[0]))]
    return '<h2>%s</h2>%s' % (_text(title), _table([''] + [LABELS[state] for state in STATES] + ['total'], rows))


def _servers(report):
    rows = []
    for name, summary in sorted(report['servers'].items()):
        if not summary['read']:
            rows.append([_cell(name), '<td colspan="8">log not read (the server failed or was unreachable)</td>'])
            continue
        rows.append([_cell(name), _cell(summary['requests'], True), _cell(summary['phones_seen'], True),
                     _cell(summary['profiles'], True), _cell(summary['push_time']), _cell(summary['first_time']),
                     _cell(summary['last_time']), _cell(summary['bad_lines'], True),
                     _cell(', '.join('%s: %d' % item for item in sorted(summary['statuses'].items())))])
    return _table(['server', 'requests', 'phones seen', 'profiles', 'newest profile', 'log from', 'log to', 'bad lines',
                   'statuses'], rows)


def _phones(report, max_phones):
    order = dict((state, rank) for rank, state in enumerate(TABLE_ORDER))
    listed = sorted((item for item in report['phones'].items() if item[1]['state'] != CURRENT),
                    key=lambda item: (order[item[1]['state']], item[0]))
    rows = [[_cell(ma)] + [_cell(entry.get(field)) for _name, field in PHONE_COLUMNS[1:]] for ma, entry in listed[:max_phones]]
    note = ''
    if len(listed) > max_phones:
        note = ('<p class="note" id="phones-capped">%d more phones not listed here (the list stops at %d): '
                'every phone is in fleet-report.json.</p>' % (len(listed) - max_phones, max_phones))
    if not listed:
        return '<p class="note">Every phone of the fleet is current.</p>'
    return note + _table([name for name, _field in PHONE_COLUMNS], rows) + note


def _generic_list(macs, shown=200):
    if not macs:
        return 'none'
    return _text(', '.join(macs[:shown]) + (' ... (%d in all)' % len(macs) if len(macs) > shown else ''))


def render_html(report, max_phones=1000):
    """The page's text."""
    counts = report['counts']
    tiles = ''.join('<div class="tile" style="border-color:%s"><span class="n" id="count-%s">%d</span>%s</div>'
                    % (COLOURS[state], state, counts[state], _text(LABELS[state])) for state in STATES)
    generic = report['generic']
    charts = [_bar_chart('Phones by state', [(LABELS[state], counts[state], COLOURS[state]) for state in STATES]),
              _bar_chart('Firmware versions (phones seen)', _firmware_rows(report['by_firmware'])),
              _hour_chart(report['per_hour'])]
    body = [
        '<h1>Fleet report</h1>',
        '<p class="meta">generated %s &middot; fleet <span id="fleet-size">%d</span> phones &middot; push (newest profile) %s'
        ' &middot; phones seen with the generic certificate: <span id="count-generic">%d</span> (and %d requests with it naming no MAC)'
        '</p>' % (_text(report['generated']), report['fleet_size'], _text(report['push_time']), generic['count'],
                  generic['unidentified_requests']),
        '<div class="tiles">%s</div>' % tiles,
        '<p class="meta">%d failing phones still run their current profile.</p>' % report['failing_with_current_profile'],
        '<h2>Charts</h2><div class="charts">%s</div>' % ''.join(charts),
        '<h2>Servers</h2>', _servers(report),
        _state_table('By model', report['by_model']), _state_table('By firmware', report['by_firmware']),
        _state_table('By model and firmware (a firmware wave)', _model_firmware_rows(report['firmware_by_model'])),
        _state_table('By server (of the newest request)', report['by_server']),
        '<h2>Generic certificate</h2><p>%s</p>' % _generic_list(generic['macs']),
        '<h2>Phones that are not current</h2>', _phones(report, max_phones),
    ]
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">'
            '<title>Fleet report %s</title><style>%s</style></head><body>\n%s\n</body></html>\n'
            % (_text(report['generated']), CSS, '\n'.join(part for part in body if part)))
