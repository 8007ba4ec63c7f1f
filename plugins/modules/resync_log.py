#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: resync_log
short_description: Summarise a provisioning server's access log per phone, rotated files included
version_added: 0.1.0
description:
  - Reads the JSON access log that role C(phoneprov.mpp.provisioning_server) writes (nginx log format
    C(mpp_json), O(path) as C(mpp_server_access_log)) on the managed host, with its rotated files
    C(<path>.1), C(<path>.2.gz) ... oldest first, and returns per phone the last resync, its status and what the
    phone makes of it (behaviour V(A), V(B) or V(C) of the provisioning guide's table 3-1), the last
    successful fetch of its own profile, the User-Agent's model and firmware, the certificate kind, address
    and TLS parameters. The log never leaves the server; only the summary is returned.
  - "A line belongs to the MAC the client certificate names (by the site's identity rule), else the MAC
    in the User-Agent, else the MAC in the requested profile file name (O(profile_filename) below
    O(url_path)); lines with none of them are counted in RV(unidentified)."
  - Also returns each profile's publish time, size and ETag from O(docroot), so that a report can decide
    whether a phone fetched its current profile (RV(phones.last_ok_time) not before RV(profiles.time)).
  - The files are streamed, gzip included, so memory grows with the number of phones, not of lines.
    Lines that are not log records are counted in RV(bad_lines), never fatal; unknown fields are ignored.
  - nginx writes C($time_iso8601) with the server's UTC offset; times are compared in UTC and returned as
    ISO 8601 in UTC (C(2026-12-02T01:04:33+00:00)).
  - Read-only; check mode runs the same way.
author:
  - phoneprov.mpp contributors (@phoneprov)
extends_documentation_fragment: [ansible.builtin.action_common_attributes, phoneprov.mpp.attributes.check_only]
options:
  path:
    description: The access log (C(mpp_server_access_log) of role C(phoneprov.mpp.provisioning_server)).
    type: path
    default: /var/log/nginx/mpp-access.log
  rotated:
    description:
      - Also read the rotated files C(<path>.N) and C(<path>.N.gz) (logrotate's names), highest N (oldest) first.
      - A rotated file that is truncated or corrupt is read as far as it goes; RV(files) names the error.
    type: bool
    default: true
  docroot:
    description:
      - The profiles' directory (C(mpp_server_docroot)), for RV(profiles); C(~) and variables expand as in a path.
      - Null or empty for no publish times (RV(profiles) is then null).
    type: raw
    default: /srv/mpp/profiles
  url_path:
    description: URL path of the profiles (C(mpp_server_url_path)); starts and ends with C(/).
    type: str
    default: /cfg/
  profile_filename:
    description:
      - The profile file name rule (C(mpp_server_profile_filename)), with one MAC macro C($MA), C($MAU) or C($MAC).
      - Decides which requests are profile fetches and which MAC a file name names, as nginx does.
    type: str
    default: $MA.xml
  since:
    description:
      - Ignore lines older than this time, ISO 8601 (C(2026-12-02T01:00:00+01:00); without an offset UTC) or
        epoch seconds. Files last written before it are not opened at all.
    type: raw
  macs:
    description:
      - Only these phones (any MAC spelling) in RV(phones) and RV(profiles). The counts over all lines
        (RV(statuses), RV(per_hour), RV(lines)) still count every line.
    type: list
    elements: str
  result_format:
    description:
      - V(dict) returns RV(phones) and RV(profiles) as mappings by MAC, with a mapping per phone.
      - V(rows) returns the same facts as RV(phone_fields) and RV(phone_rows), RV(profile_fields) and
        RV(profile_rows) instead, the field names once, then one JSON text of rows (a list of values per
        phone in that order, the MAC first). Ansible walks every value of a task result, so for 100,000
        phones this cuts the module's result handling from seconds to a fraction (the fleet report uses
        it; C(phoneprov.mpp.fleet_report) reads both forms).
    type: str
    choices: [dict, rows]
    default: dict
    version_added: 0.2.0
notes:
  - The status table lives in the collection once (C(module_utils/http_behavior.py), filter C(phoneprov.mpp.http_behavior)).
  - The result holds one entry per phone seen; for a fleet of 100,000 phones that is some tens of megabytes
    of task result. O(result_format=rows) makes it cheap to hand over, O(macs) and O(since) make it smaller.
  - A log of more than 16 MiB is read by two processes, the older half of its lines (rotated files whole,
    a plain file possibly cut at a line end) and the newer half, whose summaries are merged.
seealso:
  - module: phoneprov.mpp.phone_check
'''

EXAMPLES = r'''
- name: What the phones did since the push
  phoneprov.mpp.resync_log:
    path: "{{ mpp_server_access_log }}"
    docroot: "{{ mpp_server_docroot }}"
    since: "{{ push_time }}"
  register: resyncs

- name: Phones whose last answer was not a profile
  ansible.builtin.debug:
    msg: "{{ item.key }}: {{ item.value.last_reason }} ({{ item.value.last_time }})"
  loop: "{{ resyncs.phones | dict2items | rejectattr('value.last_behavior', 'eq', 'A') }}"
  loop_control:
    label: "{{ item.key }}"

- name: Only two phones, the current log file only, no publish times
  phoneprov.mpp.resync_log:
    macs: [000e08abcdef, "00:56:2b:04:36:15"]
    rotated: false
    docroot: null
'''

RETURN = r'''
phone_fields:
  description: The names of the values in each of RV(phone_rows), C(mac) first, then the fields of RV(phones).
  type: list
  elements: str
  returned: with O(result_format=rows)
  sample: [mac, count, last_time, last_status, last_behavior, last_reason, last_file, last_ok_time, last_ok_file,
           ok_count, model, firmware, cert_kind, remote_addr, tls, cipher]
phone_rows:
  description:
    - One JSON text, a list with one row per phone seen in MAC order, each row a list of its values in RV(phone_fields)
      order (C(from_json) in a template reads it).
  type: str
  returned: with O(result_format=rows)
  sample: '[["000e08abcdef",24,"2026-12-02T01:04:33+00:00",200,"A","HTTP 200 profile received","/cfg/000e08abcdef.xml",
    "2026-12-02T01:04:33+00:00","/cfg/000e08abcdef.xml",24,"CP-8841-3PCC","12.0.1","unique","192.0.2.10","TLSv1.2",
    "ECDHE-RSA-AES256-GCM-SHA384"]]'
profile_fields:
  description: The names of the values in each of RV(profile_rows), C(mac) first, then the fields of RV(profiles).
  type: list
  elements: str
  returned: with O(result_format=rows)
  sample: [mac, mtime, time, size, etag]
profile_rows:
  description: One JSON text, the profile files as rows in the way of RV(phone_rows); null without O(docroot).
  type: str
  returned: with O(result_format=rows)
  sample: '[["000e08abcdef",1796173473.25,"2026-12-02T01:04:33+00:00",1234,"\\"6b0f6ea1-4d2\\""]]'
phones:
  description:
    - One entry per phone seen, keyed by its MAC as C($MA) spells it (twelve lower-case hex digits); each entry holds
      the fields below.
  type: dict
  returned: with O(result_format=dict)
  sample: {"000e08abcdef": {"count": 24, "last_time": "2026-12-02T01:04:33+00:00", "last_status": 200,
           "last_behavior": "A", "last_reason": "HTTP 200 profile received", "last_file": "/cfg/000e08abcdef.xml",
           "last_ok_time": "2026-12-02T01:04:33+00:00", "last_ok_file": "/cfg/000e08abcdef.xml", "ok_count": 24,
           "model": "CP-8841-3PCC", "firmware": "12.0.1", "cert_kind": "unique", "remote_addr": "192.0.2.10",
           "tls": "TLSv1.2", "cipher": "ECDHE-RSA-AES256-GCM-SHA384"}}
  contains:
    count:
      description: Requests of this phone.
      type: int
    last_time:
      description: Time of its latest request, ISO 8601 in UTC.
      type: str
    last_status:
      description: HTTP status of its latest request.
      type: int
    last_behavior:
      description: What the phone makes of RV(phones.last_status) (V(A), V(B), V(C), V(redirect), V(auth)).
      type: str
    last_reason:
      description: The status table's short text for RV(phones.last_status).
      type: str
    last_file:
      description: The URI path of its latest request.
      type: str
    last_ok_time:
      description: Time of its latest C(GET) of its own profile answered 200, null when none.
      type: str
    last_ok_file:
      description: The profile path of that request, null when none.
      type: str
    ok_count:
      description: Its requests of its own profile answered 200.
      type: int
    model:
      description: Model from its latest User-Agent that named one, null when none did.
      type: str
    firmware:
      description: Firmware version from the same User-Agent.
      type: str
    cert_kind:
      description: Certificate of its latest request, V(unique) (it named the MAC), V(generic) (the generic pre-2.0 certificate) or V(none).
      type: str
    remote_addr:
      description: Client address of its latest request.
      type: str
    tls:
      description: TLS protocol of its latest request.
      type: str
    cipher:
      description: TLS cipher of its latest request.
      type: str
unidentified:
  description: Lines in which no MAC was found (no certificate MAC, no User-Agent MAC, no profile file name).
  type: dict
  returned: always
  sample: {"count": 3, "generic": 1, "none": 2, "statuses": {"400": 2, "403": 1}}
  contains:
    count:
      description: All such lines.
      type: int
    generic:
      description: Those made with the generic certificate.
      type: int
    none:
      description: Those made with no certificate or one that names no phone.
      type: int
    statuses:
      description: Their count per HTTP status (keys are the status as text).
      type: dict
profiles:
  description:
    - The profile files in O(docroot) whose names follow O(profile_filename), keyed by C($MA), each entry with the
      fields below; null without O(docroot).
  type: dict
  returned: with O(result_format=dict)
  sample: {"000e08abcdef": {"mtime": 1796173473.25, "time": "2026-12-02T01:04:33+00:00", "size": 1234, "etag": "\"6b0f6ea1-4d2\""}}
  contains:
    mtime:
      description: Modification time, epoch seconds.
      type: float
    time:
      description: The same, ISO 8601 in UTC (whole seconds).
      type: str
    size:
      description: Size in bytes.
      type: int
    etag:
      description: The ETag nginx sends for the file, C("<mtime seconds hex>-<size hex>").
      type: str
statuses:
  description: Requests per HTTP status (keys are the status as text), over all lines read.
  type: dict
  returned: always
  sample: {"200": 950000, "403": 12, "404": 40}
per_hour:
  description: Requests per hour, keyed by the UTC hour C(YYYY-MM-DDTHH).
  type: dict
  returned: always
  sample: {"2026-12-02T00": 41000, "2026-12-02T01": 40120}
files:
  description: The log files read, oldest first.
  type: list
  elements: dict
  returned: always
  sample: [{"path": "/var/log/nginx/mpp-access.log.2.gz", "lines": 480000, "bad_lines": 0, "compressed": true},
           {"path": "/var/log/nginx/mpp-access.log", "lines": 52000, "bad_lines": 1, "compressed": false}]
  contains:
    path:
      description: The file.
      type: str
    lines:
      description: Lines read from it.
      type: int
    bad_lines:
      description: Of those, lines that were not log records.
      type: int
    compressed:
      description: Whether it was gzip (absent when skipped).
      type: bool
    skipped:
      description: Why it was not read (last written before O(since)); absent when read.
      type: str
    error:
      description: Why reading stopped early (a truncated gzip file); absent when read to the end.
      type: str
lines:
  description: Lines read from all files.
  type: int
  returned: always
  sample: 1000000
bad_lines:
  description: Lines that were not log records (not JSON, no time or status); counted, not fatal.
  type: int
  returned: always
  sample: 0
ignored_lines:
  description: Lines older than O(since).
  type: int
  returned: always
  sample: 0
first_time:
  description: Time of the oldest line counted, ISO 8601 in UTC; null when none.
  type: str
  returned: always
  sample: "2026-12-01T00:00:02+00:00"
last_time:
  description: Time of the newest line counted, ISO 8601 in UTC; null when none.
  type: str
  returned: always
  sample: "2026-12-02T01:04:33+00:00"
'''

from ansible_collections.phoneprov.mpp.plugins.module_utils.module_helper import create_module, run_backend
from ansible_collections.phoneprov.mpp.plugins.module_utils.resync_log import (
    DEFAULT_DOCROOT, DEFAULT_PATH, DEFAULT_URL_PATH, ResyncLogError, run_module)

ARGUMENT_SPEC = dict(
    path=dict(type='path', default=DEFAULT_PATH),
    rotated=dict(type='bool', default=True),
    # raw, not path: null must mean no publish times on every ansible-core (2.16-2.18 type-check a null against a default).
    docroot=dict(type='raw', default=DEFAULT_DOCROOT),
    url_path=dict(type='str', default=DEFAULT_URL_PATH),
    profile_filename=dict(type='str', default='$MA.xml'),
    since=dict(type='raw'),
    macs=dict(type='list', elements='str'),
    result_format=dict(type='str', default='dict', choices=['dict', 'rows']),
)


def main():
    module = create_module(ARGUMENT_SPEC, libraries=())
    run_backend(module, run_module, ResyncLogError)


if __name__ == '__main__':
    main()
