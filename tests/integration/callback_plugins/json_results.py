# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only stdout callback: the whole run as one JSON document (plays, tasks, stats).

ansible-core ships no JSON callback (ansible.posix has one, and Galaxy is not reachable here).
"""

from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = '''
name: json_results
type: stdout
short_description: Test-only JSON output for phoneprov.mpp integration tests
description:
  - Prints plays, task results per host and stats as one JSON document at the end.
'''


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'stdout'
    CALLBACK_NAME = 'json_results'

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.results = {'plays': []}

    def v2_playbook_on_play_start(self, play):
        self.results['plays'].append({'play': {'name': play.get_name()}, 'tasks': []})

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.results['plays'][-1]['tasks'].append({'task': {'name': task.get_name()}, 'hosts': {}})

    v2_playbook_on_handler_task_start = v2_playbook_on_task_start

    def _record(self, result, **flags):
        tasks = self.results['plays'][-1]['tasks']
        name = result.task_name if hasattr(result, 'task_name') else result._task.get_name()
        entry = tasks[-1] if tasks and tasks[-1]['task']['name'] == name else None
        if entry is None:
            entry = {'task': {'name': name}, 'hosts': {}}
            tasks.append(entry)
        data = dict(result._result)
        data.update(flags)
        entry['hosts'][result._host.get_name()] = data

    def v2_runner_on_ok(self, result, **kwargs):
        self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False, **kwargs):
        self._record(result, failed=True)

    def v2_runner_on_skipped(self, result, **kwargs):
        self._record(result, skipped=True)

    def v2_runner_on_unreachable(self, result, **kwargs):
        self._record(result, unreachable=True)

    def v2_playbook_on_stats(self, stats):
        summary = {}
        for host in sorted(stats.processed.keys()):
            summary[host] = stats.summarize(host)
        self.results['stats'] = summary
        document = json.dumps(self.results, cls=_Encoder, indent=1, sort_keys=True)
        # A file, when asked for: a module's progress lines on stdout then cannot spoil the JSON.
        if os.environ.get('MPP_TEST_RESULTS_FILE'):
            with open(os.environ['MPP_TEST_RESULTS_FILE'], 'w') as results_file:
                results_file.write(document)
        self._display.display(document)


class _Encoder(json.JSONEncoder):
    def default(self, o):  # pylint: disable=method-hidden
        return str(o)
