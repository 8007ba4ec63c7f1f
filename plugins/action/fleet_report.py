# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""phoneprov.mpp.fleet_report: the fleet report, built and written on the controller.

Everything happens in this process: the states (plugin_utils/fleet_report.py), the page
(plugin_utils/fleet_report_html.py) and the files (plugin_utils/fleet_report_files.py). No module
runs on a managed host: the servers' resync_log results are already in the controller's hostvars,
and shipping them to a module would copy every phone's entry through JSON twice.
"""

from __future__ import annotations

import os
import time

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase

from ansible_collections.phoneprov.mpp.plugins.plugin_utils.fleet_report import ReportError, build_report, gate, summary_lines
from ansible_collections.phoneprov.mpp.plugins.plugin_utils.fleet_report_files import (
    HTML_NAME, JSON_NAME, changed_files, counts_diff, plan_files, write_files)

ARGUMENT_SPEC = {
    'fleet': {'type': 'list', 'elements': 'raw', 'required': True},
    'results': {'type': 'dict', 'required': True},
    'dest': {'type': 'path', 'required': True},
    'prometheus': {'type': 'path', 'default': ''},
    'max_phones': {'type': 'int', 'default': 1000},
    'fail_percent': {'type': 'float'},
    'gate_after': {'type': 'int', 'default': 0},
}
# The big arguments: validated apart (ArgumentSpecValidator would deep-copy them).
BIG = ('fleet', 'results')


class ActionModule(ActionBase):
    """Build the fleet report from the fleet and the servers' resync_log results; write its files."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars or {})
        del tmp
        try:
            args = self._arguments()
            report = build_report(args['fleet'], args['results'])
            files, previous = plan_files(report, args['dest'], args['prometheus'], args['max_phones'])
            pending = changed_files(files)
            written = [] if self._play_context.check_mode else write_files(files, args['dest'])
            gate_result = gate(report, args['fail_percent'], args['gate_after'], now=time.time())
        except (ReportError, OSError) as exc:
            result.update(failed=True, msg='fleet_report: %s' % to_native(exc))
            return result
        finally:
            # The worker sends the task's arguments back with the result: not 100,000 phones again.
            for name in BIG:
                if isinstance(self._task.args.get(name), (list, dict)):
                    self._task.args[name] = '(%d entries)' % len(self._task.args[name])
        result.update(
            changed=bool(pending), dest=args['dest'], written=written,
            files={'json': os.path.join(args['dest'], JSON_NAME), 'html': os.path.join(args['dest'], HTML_NAME),
                   'prometheus': args['prometheus'] or None},
            generated=report['generated'], push_time=report['push_time'], fleet_size=report['fleet_size'],
            counts=report['counts'], by_server=report['by_server'], generic=report['generic']['count'],
            servers=dict((name, dict((key, value) for key, value in summary.items() if key != 'push_epoch'))
                         for name, summary in report['servers'].items()),
            gate=gate_result, table=summary_lines(report))
        if self._play_context.diff and pending:
            result['diff'] = counts_diff(previous, report)
        return result

    def _arguments(self):
        raw = dict(self._task.args)
        big = dict((name, raw.pop(name, None)) for name in BIG)
        spec = dict((name, value) for name, value in ARGUMENT_SPEC.items() if name not in BIG)
        validated = ArgumentSpecValidator(spec).validate(raw)
        if validated.error_messages:
            raise ReportError('invalid arguments: %s' % '; '.join(validated.error_messages))
        args = validated.validated_parameters
        if big['fleet'] is None or big['results'] is None:
            raise ReportError('fleet (the phones, mpp_phones) and results ({server: resync_log result}) are required')
        if not isinstance(big['results'], dict):
            raise ReportError('results must be a dict {server: resync_log result}, got %s' % type(big['results']).__name__)
        args.update(big)
        if args['max_phones'] < 0 or args['gate_after'] < 0:
            raise ReportError('max_phones and gate_after must be 0 or more')
        if args['fail_percent'] is not None and not 0 <= args['fail_percent'] <= 100:
            raise ReportError('fail_percent must be between 0 and 100, got %s' % args['fail_percent'])
        args['dest'] = os.path.abspath(args['dest'])
        if args['prometheus']:
            args['prometheus'] = os.path.abspath(args['prometheus'])
        return args
