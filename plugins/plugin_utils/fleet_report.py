# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report: every phone's state after a push, from the servers' ``resync_log`` results.

Input: the fleet (``mpp_phones`` entries; MACs through module_utils/phone_entry.py) and
``{server name: phoneprov.mpp.resync_log result}``. Output: one plain dict (``fleet-report.json``);
the HTML page is plugin_utils/fleet_report_html.py, the Prometheus textfile :func:`render_prometheus`.

A phone's state, decided in this order (the first that holds wins):

1. ``unknown``: its MAC was seen in a log but the fleet does not list it.
2. ``never_seen``: listed, but no server logged a request for it.
3. ``failing``: the newest request it made, over all servers, was not answered 200. The phone
   retries as the status table says (module_utils/http_behavior.py: ``behavior``, ``reason``,
   ``next_try``). It wins over ``current``: a phone that cannot resync now will not get the next
   push either; ``profile_current`` still says whether it runs the current profile.
4. ``current``: its newest successful fetch of its own profile (``last_ok_time``, over all
   servers) is at or after the publish time (mtime) of that profile on the server that answered
   it. The log has whole seconds, so the publish time is compared in whole seconds too.
5. ``stale``: anything else seen: the newest good fetch is older than the profile now published,
   or there was none, or the profile is no longer published on that server.
"""

from __future__ import annotations

import datetime
import functools
import json
import math
import re

from ansible_collections.phoneprov.mpp.plugins.module_utils.http_behavior import http_behavior, next_try_parameter, status_reason
from ansible_collections.phoneprov.mpp.plugins.module_utils.mac import MA_PATTERN, MACError, normalize_mac
from ansible_collections.phoneprov.mpp.plugins.module_utils.phone_entry import PhoneEntryError, phone_mac
from ansible_collections.phoneprov.mpp.plugins.module_utils.resync_log import rows_to_dict

CURRENT, STALE, FAILING, NEVER_SEEN, UNKNOWN = 'current', 'stale', 'failing', 'never_seen', 'unknown'
STATES = (CURRENT, STALE, FAILING, NEVER_SEEN, UNKNOWN)
# The states the gate counts as "did not take the push".
GATE_STATES = (FAILING, STALE)
NOT_KNOWN = 'unknown'
FORMAT_VERSION = 1
# What a report entry copies from the newest request's resync_log entry.
SEEN_FIELDS = ('remote_addr', 'tls', 'cipher', 'last_file')
# The $MA form itself (resync_log's keys, most fleets): taken as it is, without the full MAC rule.
_MA = re.compile(r'%s\Z' % MA_PATTERN)


def _ma(value):
    return value if isinstance(value, str) and _MA.match(value) else normalize_mac(value)


class ReportError(ValueError):
    """Input the report cannot use (a bad fleet entry, a malformed resync_log result)."""


def epoch(text):
    """Seconds since the epoch of an ISO 8601 time (``Z`` or an offset; naive means UTC); None for None."""
    if text is None or text == '':
        return None
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    return _epoch_of_text(str(text))


@functools.lru_cache(maxsize=1 << 16)
def _epoch_of_text(text):
    # Cached: a log's phones share a few thousand distinct seconds.
    try:
        value = datetime.datetime.fromisoformat(text.replace('Z', '+00:00'))
    except ValueError:
        raise ReportError('not an ISO 8601 time: %r' % (text,))
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.timestamp()


def iso(seconds):
    """ISO 8601 UTC as resync_log writes it (``2026-12-02T01:04:31+00:00``) of an epoch time; None for None."""
    if seconds is None:
        return None
    return datetime.datetime.fromtimestamp(int(seconds), datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S+00:00')


def fleet_index(fleet):
    """``{$MA: entry}`` of the fleet in its order; ReportError naming a bad or duplicate entry."""
    if not isinstance(fleet, (list, tuple)):
        raise ReportError('the fleet must be a list of phone entries (mpp_phones), got %s' % type(fleet).__name__)
    index = {}
    for position, entry in enumerate(fleet):
        try:
            mac = entry.get('mac') if isinstance(entry, dict) else None
            ma = mac if isinstance(mac, str) and _MA.match(mac) else phone_mac(position, entry)
        except PhoneEntryError as exc:
            raise ReportError('fleet: %s' % exc)
        if ma in index:
            raise ReportError('fleet: phone #%d: duplicate MAC %s' % (position + 1, ma))
        index[ma] = entry
    return index


def _checked_result(server, result):
    """The parts of one server's resync_log result the report reads, checked; None when not read."""
    if not isinstance(result, dict) or any(result.get(key) for key in ('failed', 'unreachable', 'skipped')):
        return None  # an unreachable or failed server: its log was not read
    if 'phone_rows' in result:
        try:
            phones = rows_to_dict(result.get('phone_fields') or [], result['phone_rows'] or [])
            profiles = rows_to_dict(result.get('profile_fields') or [], result.get('profile_rows') or [])
        except (TypeError, ValueError) as exc:
            raise ReportError('server %s: the resync_log rows do not read: %s' % (server, exc))
    elif 'phones' in result:
        phones, profiles = result.get('phones') or {}, result.get('profiles') or {}
    else:
        return None
    if not isinstance(phones, dict) or not isinstance(profiles, dict):
        raise ReportError('server %s: the resync_log result has no phones/profiles mappings' % server)
    try:
        checked = dict((_ma(key), value) for key, value in phones.items())
        published = dict((_ma(key), value) for key, value in profiles.items())
    except MACError as exc:
        raise ReportError('server %s: resync_log phones or profiles: %s' % (server, exc))
    return {'phones': checked, 'profiles': published, 'raw': result}


def _profile_iso(profile, seconds):
    """The profile's publish time as resync_log wrote it, else from ``seconds``."""
    return (profile or {}).get('time') or iso(seconds)


def _profile_time(profile):
    """Publish time (epoch) of a resync_log profile entry, or None."""
    if not profile:
        return None
    if profile.get('mtime') is not None:
        return float(profile['mtime'])
    return epoch(profile.get('time'))


def _newest(items, key):
    """The item with the greatest ``key(item)`` (ignoring None), ties to the first; None if none."""
    best, best_value = None, None
    for item in items:
        value = key(item)
        if value is not None and (best_value is None or value > best_value):
            best, best_value = item, value
    return best


def phone_state(ma, entry, sightings, servers):
    """The report entry of one MAC: ``entry`` its fleet entry (None: not in the fleet),
    ``sightings`` ``[(server, resync_log phone entry)]``, ``servers`` the checked results."""
    out = {'state': None, 'in_fleet': entry is not None, 'model': (entry or {}).get('model'), 'firmware': None,
           'server': None, 'servers': [name for name, _seen in sightings], 'count': 0, 'last_time': None,
           'last_status': None, 'behavior': None, 'reason': None, 'next_try': None, 'cert_kind': None,
           'last_ok_time': None, 'last_ok_server': None, 'ok_count': 0, 'profile_current': False,
           'profile_time': None}
    for field in SEEN_FIELDS:
        out[field] = None
    if not sightings:
        published = [servers[name]['profiles'].get(ma) for name in sorted(servers)]
        newest = _newest(published, _profile_time)
        out.update(state=NEVER_SEEN if entry is not None else UNKNOWN, profile_time=_profile_iso(newest, _profile_time(newest)))
        return out
    if len(sightings) == 1:  # most phones: one server saw them
        server, last = sightings[0]
        epoch(last.get('last_time'))  # checked as with several servers
        ok = sightings[0] if last.get('last_ok_time') else None
    else:
        server, last = _newest(sightings, lambda item: epoch(item[1].get('last_time')))
        ok = _newest(sightings, lambda item: epoch(item[1].get('last_ok_time')))
    out['count'] = sum(int(seen.get('count') or 0) for _name, seen in sightings)
    out['ok_count'] = sum(int(seen.get('ok_count') or 0) for _name, seen in sightings)
    out.update(server=server, last_time=last.get('last_time'), cert_kind=last.get('cert_kind'),
               model=out['model'] or last.get('model'), firmware=last.get('firmware'))
    for field in SEEN_FIELDS:
        out[field] = last.get(field)
    if any(seen.get('cert_kind') == 'generic' for _name, seen in sightings):
        out['cert_kind'] = 'generic'
    _status(out, last)
    if ok is not None:
        ok_server, ok_seen = ok
        profile = servers[ok_server]['profiles'].get(ma)
        publish = _profile_time(profile)
        out.update(last_ok_time=ok_seen.get('last_ok_time'), last_ok_server=ok_server, profile_time=_profile_iso(profile, publish))
        out['profile_current'] = publish is not None and epoch(ok_seen['last_ok_time']) >= math.floor(publish)
    if entry is None:
        out['state'] = UNKNOWN
    elif out['last_status'] != 200:
        out['state'] = FAILING
    else:
        out['state'] = CURRENT if out['profile_current'] else STALE
    return out


def _status(out, last):
    """Status, behaviour, reason and next try of the newest request (the status table's words)."""
    status = last.get('last_status')
    try:
        status = int(status)
        behavior = last.get('last_behavior') or http_behavior(status)
        reason = last.get('last_reason') or status_reason(status)
    except (TypeError, ValueError):
        out['reason'] = 'no HTTP status logged'
        return
    out.update(last_status=status, behavior=behavior, reason=reason,
               next_try=next_try_parameter(behavior) if behavior in ('A', 'B', 'C') else None)


def _tally(table, key, state):
    if key is None or key == '':
        key = NOT_KNOWN
    row = table.get(key)
    if row is None:
        row = table[key] = dict.fromkeys(STATES + ('total',), 0)
    row[state] += 1
    row['total'] += 1


def _server_summary(name, checked):
    """What the report says about one server's log and document root."""
    if checked is None:
        return {'read': False}
    raw = checked['raw']
    publish = _newest([_profile_time(p) for p in checked['profiles'].values()], lambda value: value)
    statuses = dict((str(code), int(count)) for code, count in (raw.get('statuses') or {}).items())
    unidentified = raw.get('unidentified') or {}
    return {'read': True, 'files': raw.get('files'), 'lines': raw.get('lines', 0), 'bad_lines': raw.get('bad_lines', 0),
            'first_time': raw.get('first_time'), 'last_time': raw.get('last_time'),
            'requests': sum(statuses.values()), 'statuses': statuses, 'phones_seen': len(checked['phones']),
            'unidentified': {'count': int(unidentified.get('count') or 0), 'generic': int(unidentified.get('generic') or 0),
                             'none': int(unidentified.get('none') or 0)},
            'profiles': len(checked['profiles']), 'push_time': iso(publish), 'push_epoch': publish}


def build_report(fleet, results, generated=None):
    """The report dict (``fleet-report.json``) of ``fleet`` and ``results`` ({server: resync_log result})."""
    if not isinstance(results, dict):
        raise ReportError('results must map each server name to its resync_log result, got %s' % type(results).__name__)
    index = fleet_index(fleet)
    servers = {}
    summaries = {}
    for name in sorted(results, key=str):
        checked = _checked_result(str(name), results[name])
        summaries[str(name)] = _server_summary(str(name), checked)
        if checked is not None:
            servers[str(name)] = checked
    sightings = {}
    for name in sorted(servers):
        for ma, seen in servers[name]['phones'].items():
            sightings.setdefault(ma, []).append((name, seen))
    phones = {}
    for ma, entry in index.items():
        phones[ma] = phone_state(ma, entry, sightings.get(ma, []), servers)
    for ma in sorted(set(sightings) - set(index)):
        phones[ma] = phone_state(ma, None, sightings[ma], servers)
    report = {'format': FORMAT_VERSION, 'generated': generated, 'fleet_size': len(index), 'servers': summaries,
              'phones': phones}
    report.update(_aggregate(phones, servers))
    push = _newest([summary.get('push_epoch') for summary in summaries.values()], lambda value: value)
    report['push_time'], report['push_epoch'] = iso(push), push
    return report


def _aggregate(phones, servers):
    """Counts per state, model, firmware and server; the generic certificate; requests per hour."""
    counts = dict((state, 0) for state in STATES)
    by_model, by_firmware, by_server, firmware_by_model = {}, {}, {}, {}
    generic = []
    failing_current = 0
    for ma, entry in phones.items():
        state = entry['state']
        counts[state] += 1
        failing_current += state == FAILING and entry['profile_current']
        _tally(by_model, entry['model'], state)
        _tally(by_firmware, entry['firmware'], state)
        # A firmware wave is watched per model: version strings of different models are different images.
        _tally(firmware_by_model.setdefault(entry['model'] or NOT_KNOWN, {}), entry['firmware'], state)
        if entry['server'] is not None:
            _tally(by_server, entry['server'], state)
        if entry['cert_kind'] == 'generic':
            generic.append(ma)
    per_hour = {}
    unidentified_generic = 0
    for checked in servers.values():
        for hour, requests in (checked['raw'].get('per_hour') or {}).items():
            per_hour[hour] = per_hour.get(hour, 0) + int(requests)
        unidentified_generic += int((checked['raw'].get('unidentified') or {}).get('generic') or 0)
    return {'counts': counts, 'failing_with_current_profile': failing_current, 'by_model': by_model,
            'by_firmware': by_firmware, 'by_server': by_server, 'firmware_by_model': firmware_by_model,
            'generic': {'count': len(generic), 'macs': sorted(generic), 'unidentified_requests': unidentified_generic},
            'per_hour': dict(sorted(per_hour.items()))}


def gate(report, fail_percent, gate_after=0, now=None):
    """The pipeline gate: ``{'evaluated', 'failed', 'percent', 'msg', ...}``.

    Failing and stale phones of the fleet (unknown ones are not in it) as a percentage of the fleet
    size; it fails when that is more than ``fail_percent``. It is only evaluated once ``gate_after``
    seconds have passed since the push (the newest profile publish time on any server); before,
    and with ``fail_percent`` None, it never fails.
    """
    size = report['fleet_size']
    bad = sum(report['counts'][state] for state in GATE_STATES)
    percent = round(100.0 * bad / size, 2) if size else 0.0
    out = {'evaluated': False, 'failed': False, 'percent': percent, 'threshold': fail_percent, 'after': gate_after,
           'push_time': report['push_time'], 'age': None}
    if report['push_epoch'] is not None and now is not None:
        out['age'] = int(now - report['push_epoch'])
    if fail_percent is None:
        out['msg'] = 'gate off (mpp_report_fail_percent not set): %s%% of the fleet failing or stale' % percent
        return out
    if gate_after and (out['age'] is None or out['age'] < gate_after):
        out['msg'] = ('gate not evaluated: the push (%s) is %s s old, the gate waits %d s' %
                      (report['push_time'] or 'no profile published', out['age'] if out['age'] is not None else '?', gate_after))
        return out
    out['evaluated'] = True
    out['failed'] = percent > fail_percent
    out['msg'] = ('%d of %d phones (%s%%) failing or stale: %s the allowed %s%%' %
                  (bad, size, percent, 'more than' if out['failed'] else 'within', fail_percent))
    return out


def summary_lines(report, limit=10):
    """A short table for the play output: counts, then per server, then a few failing phones."""
    counts = report['counts']
    lines = ['fleet %d phones: %s' % (report['fleet_size'], ', '.join('%s %d' % (state, counts[state]) for state in STATES)),
             'push (newest profile): %s; phones seen with the generic certificate: %d'
             % (report['push_time'] or 'none published', report['generic']['count'])]
    for name, summary in sorted(report['servers'].items()):
        if not summary['read']:
            lines.append('%s: log not read' % name)
            continue
        row = report['by_server'].get(name, {})
        lines.append('%s: %d requests, %d phones seen, %d profiles, push %s; last request here: %s'
                     % (name, summary['requests'], summary['phones_seen'], summary['profiles'], summary['push_time'] or '-',
                        ', '.join('%s %d' % (state, row.get(state, 0)) for state in STATES if row.get(state))))
    failing = [(ma, entry) for ma, entry in sorted(report['phones'].items()) if entry['state'] == FAILING]
    for ma, entry in failing[:limit]:
        lines.append('failing %s on %s: %s (%s)' % (ma, entry['server'], entry['reason'], entry['behavior']))
    if len(failing) > limit:
        lines.append('... and %d more failing phones (fleet-report.json)' % (len(failing) - limit))
    return lines


def render_json(report):
    """``fleet-report.json``: keys sorted, one phone per line (a 100,000-phone report stays diffable)."""
    head = dict((key, value) for key, value in report.items() if key != 'phones')
    text = json.dumps(head, indent=1, sort_keys=True)
    phones = ',\n'.join('  %s: %s' % (json.dumps(ma), json.dumps(entry, sort_keys=True, separators=(', ', ': ')))
                        for ma, entry in sorted(report['phones'].items()))
    return '%s,\n "phones": {\n%s\n }\n}\n' % (text[:-2], phones) if phones else text[:-2] + ',\n "phones": {}\n}\n'


def _label(value):
    return str(value).replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n')


def render_prometheus(report):
    """The node_exporter textfile collector file (Prometheus text exposition format 0.0.4)."""
    out = []

    def metric(name, kind, text, samples):
        out.append('# HELP %s %s' % (name, text))
        out.append('# TYPE %s %s' % (name, kind))
        for labels, value in samples:
            label_text = ','.join('%s="%s"' % (key, _label(val)) for key, val in labels)
            out.append('%s%s %s' % (name, '{%s}' % label_text if label_text else '', _number(value)))

    metric('mpp_phones', 'gauge', 'Phones by state in the fleet report (unknown: seen but not in the fleet).',
           [((('state', state),), report['counts'][state]) for state in STATES])
    metric('mpp_fleet_phones', 'gauge', 'Phones the fleet (mpp_phones) lists.', [((), report['fleet_size'])])
    metric('mpp_phones_generic_certificate', 'gauge', 'Phones seen with the generic client certificate.',
           [((), report['generic']['count'])])
    metric('mpp_phones_by_server', 'gauge', 'Phones by state and the server of their newest request.',
           [((('server', name), ('state', state)), row[state]) for name, row in sorted(report['by_server'].items()) for state in STATES])
    read = sorted((name, summary) for name, summary in report['servers'].items() if summary['read'])
    metric('mpp_server_log_read', 'gauge', 'Whether the report could read the server\'s access log.',
           [((('server', name),), int(summary['read'])) for name, summary in sorted(report['servers'].items())])
    metric('mpp_server_requests_total', 'counter', 'Requests in the server\'s access log files read (rotation resets it).',
           [((('server', name),), summary['requests']) for name, summary in read])
    metric('mpp_server_responses_total', 'counter', 'Requests by HTTP status in the server\'s access log files read.',
           [((('server', name), ('status', code)), count) for name, summary in read for code, count in sorted(summary['statuses'].items())])
    metric('mpp_server_log_bad_lines_total', 'counter', 'Access log lines the report could not read.',
           [((('server', name),), summary['bad_lines']) for name, summary in read])
    metric('mpp_server_phones_seen', 'gauge', 'Distinct phone MACs in the server\'s access log.',
           [((('server', name),), summary['phones_seen']) for name, summary in read])
    metric('mpp_server_push_timestamp_seconds', 'gauge', 'Newest profile publish time (mtime) in the server\'s document root.',
           [((('server', name),), summary['push_epoch']) for name, summary in read if summary['push_epoch'] is not None])
    if report.get('generated'):
        metric('mpp_report_generated_timestamp_seconds', 'gauge', 'When the fleet report content was generated.',
               [((), epoch(report['generated']))])
    return '\n'.join(out) + '\n'


def _number(value):
    if isinstance(value, float) and not value.is_integer():
        return repr(value)
    return str(int(value))
