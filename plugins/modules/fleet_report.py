#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: fleet_report
short_description: The fleet report after a push - which phones have their profile, which fail and why
version_added: 0.2.0
description:
  - Builds the fleet report from the fleet (O(fleet), usually C(mpp_phones)) and the access log
    summaries of every provisioning server (O(results), each a M(phoneprov.mpp.resync_log) result),
    and writes C(fleet-report.json), C(fleet-report.html) and optionally a Prometheus textfile
    into O(dest) on the controller.
  - "Every phone gets one state, the first of these that holds:
    V(unknown) (its MAC was logged but the fleet does not list it);
    V(never_seen) (no server logged a request for it);
    V(failing) (its newest request, over all servers, was not answered 200; C(behavior), C(reason)
    and C(next_try) say what the phone does next, from the phone's status table);
    V(current) (its newest successful fetch of its own profile is at or after the publish time of
    that profile on the server that answered it, in whole seconds);
    V(stale) (seen, but its newest good fetch is older than the profile now published, or there
    was none)."
  - A failing phone whose newest good fetch is current is still V(failing) (it cannot get the next
    push); its entry has C(profile_current=true) and the report counts such phones in
    C(failing_with_current_profile).
  - The page is self-contained (inline CSS and SVG, no script, no external resource); its phones
    table lists the phones that are not current, at most O(max_phones).
  - Idempotent. The report's C(generated) time is when its content last changed; a run that finds
    the same states, counts and facts writes nothing and reports C(changed=false).
  - Action plugin only; it runs on the controller whatever host the task targets.
requirements:
  - ansible-core 2.16 to 2.19 on the controller
author:
  - phoneprov.mpp contributors (@phoneprov)
extends_documentation_fragment: [ansible.builtin.action_common_attributes, phoneprov.mpp.attributes]
attributes:
  diff_mode:
    details: Shows the counts per state before (the report in O(dest)) and after.
  platform:
    platforms: posix
options:
  fleet:
    description:
      - The phones, a list of dicts with C(mac) in any common spelling (C(mpp_phones)). C(model) is used
        when given; every other key is ignored and never copied into the report.
      - A bad or duplicate MAC fails the task naming the entry.
    type: list
    elements: raw
    required: true
  results:
    description:
      - "Per server: C({server name: resync_log result}). A result that failed or is null (an
        unreachable server) marks that server C(read=false) in the report; its phones count as seen
        only on the other servers."
    type: dict
    required: true
  dest:
    description:
      - The report directory on the controller, created (0755) when missing. Relative to the
        current directory of C(ansible-playbook).
    type: path
    required: true
  prometheus:
    description:
      - Path of a Prometheus node_exporter textfile (name it C(*.prom) in the collector's
        C(--collector.textfile.directory)); empty for none. Written atomically, mode 0644.
      - "Metrics: C(mpp_phones{state=...}), C(mpp_fleet_phones), C(mpp_phones_generic_certificate),
        C(mpp_phones_by_server{server,state}), C(mpp_server_log_read{server}),
        C(mpp_server_requests_total{server}), C(mpp_server_responses_total{server,status}),
        C(mpp_server_log_bad_lines_total{server}), C(mpp_server_phones_seen{server}),
        C(mpp_server_push_timestamp_seconds{server}), C(mpp_report_generated_timestamp_seconds)."
    type: path
    default: ''
  max_phones:
    description: How many phones that are not current the HTML page lists (the JSON has them all).
    type: int
    default: 1000
  fail_percent:
    description:
      - The gate. When set, RV(gate.failed) is true when more than this percentage of the fleet is
        V(failing) or V(stale) (V(never_seen) and V(unknown) phones do not count). The module itself
        does not fail on it; playbook C(phoneprov.mpp.report) asserts it.
    type: float
  gate_after:
    description:
      - Evaluate the gate only when at least this many seconds have passed since the push (the
        newest profile publish time on any server). Before, RV(gate.evaluated) is false and the gate
        never fails.
    type: int
    default: 0
seealso:
  - module: phoneprov.mpp.resync_log
  - module: phoneprov.mpp.phone_check
'''

EXAMPLES = r'''
- name: Fleet report from the servers' resync_log results
  phoneprov.mpp.fleet_report:
    fleet: "{{ mpp_phones }}"
    results: "{{ dict(groups['provisioning_servers'] | zip(groups['provisioning_servers'] | map('extract', hostvars, 'mpp_report_log'))) }}"
    dest: reports
    prometheus: /var/lib/prometheus/node-exporter/mpp.prom
    fail_percent: 5
    gate_after: 3600
  register: report

- name: Fail the pipeline when too many phones did not take the push
  ansible.builtin.assert:
    that: not report.gate.failed
    fail_msg: "{{ report.gate.msg }}"
'''

RETURN = r'''
counts:
  description: Phones per state (V(unknown) ones are not in the fleet).
  returned: success
  type: dict
  sample: {current: 9500, stale: 300, failing: 150, never_seen: 50, unknown: 3}
fleet_size:
  description: Phones the fleet lists.
  returned: success
  type: int
by_server:
  description: Phones per server of their newest request, per state.
  returned: success
  type: dict
generic:
  description: How many phones were seen with the generic client certificate.
  returned: success
  type: int
push_time:
  description: The newest profile publish time on any server (ISO 8601 UTC), null when none.
  returned: success
  type: str
generated:
  description: When the report's content last changed (ISO 8601 UTC).
  returned: success
  type: str
servers:
  description: Per server what its log and document root hold (C(read), C(requests), C(phones_seen),
    C(profiles), C(push_time), C(statuses), C(lines), C(bad_lines), C(first_time), C(last_time)).
  returned: success
  type: dict
files:
  description: The report's paths (C(json), C(html), C(prometheus) or null).
  returned: success
  type: dict
written:
  description: The files written in this run (none in check mode or when nothing changed).
  returned: success
  type: list
  elements: str
gate:
  description: The gate's outcome.
  returned: success
  type: dict
  contains:
    evaluated:
      description: Whether the gate was evaluated (O(fail_percent) set and O(gate_after) passed).
      type: bool
    failed:
      description: More than O(fail_percent) of the fleet failing or stale.
      type: bool
    percent:
      description: Failing and stale phones, percent of the fleet.
      type: float
    age:
      description: Seconds since the push, null when no profile is published.
      type: int
    msg:
      description: The outcome in words.
      type: str
table:
  description: A short table for the play output (counts, per server, the first failing phones).
  returned: success
  type: list
  elements: str
'''
