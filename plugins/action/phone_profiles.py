# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller half of phoneprov.mpp.phone_profiles: render the fleet, ship one payload.

1. Take the fleet from ``phones`` or read it from ``phones_from`` (plugin_utils/fleet_source.py,
   on the controller, never an inventory variable), then check every phone entry
   (plugin_utils/phone_entries.py over module_utils/phone_entry.py: MAC rule, duplicates, key,
   template choice; the file name rule of module_utils/profile_filename.py) before any work.
2. Build the render context once (plugin_utils/render_context.py: templar, shared variables,
   render fingerprints, push digest, direct rendering) and the bucket digests
   (module_utils/profile_buckets.py), then ask the managed host (module, ``inventory: true``)
   whether it holds this push already, and for the hashes of the buckets that differ.
3. Render, check, encode and hash every phone of those buckets (plugin_utils/render_workers.py).
   Profiles whose hash differs from the host's go into one payload file
   (module_utils/profile_payload.py).
4. Transfer the payload and run the module, which writes changed files atomically and prunes;
   with ``--diff``, plugin_utils/profile_diff.py shows the changes with secrets masked.
Any failure in 1 or 3 stops the task before step 4: nothing is published.
"""

from __future__ import annotations

import collections
import os
import shutil
import tempfile
import time

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase
from ansible.template import generate_ansible_template_vars
from ansible.utils.display import Display

from ansible_collections.phoneprov.mpp.plugins.module_utils.phone_entry import PhoneEntryError
from ansible_collections.phoneprov.mpp.plugins.module_utils.phone_profiles_spec import MODULE_ARGUMENTS, task_argument_spec
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_buckets import bucket_count, bucket_digests, bucket_of
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_filename import FilenameError
from ansible_collections.phoneprov.mpp.plugins.plugin_utils.core_compat import read_text_file, resolve_fleet_string, trust_as_template
from ansible_collections.phoneprov.mpp.plugins.plugin_utils.direct_render import plain_data, possibly_template
from ansible_collections.phoneprov.mpp.plugins.plugin_utils.fleet_source import read_fleet_data, resolve_file_string, resolve_paths
from ansible_collections.phoneprov.mpp.plugins.plugin_utils.phone_entries import check_phones
from ansible_collections.phoneprov.mpp.plugins.plugin_utils.profile_diff import profile_diff
from ansible_collections.phoneprov.mpp.plugins.plugin_utils.render_context import (
    LoadedTemplate, build_render_context, fingerprints, push_digest, template_searchpath)
from ansible_collections.phoneprov.mpp.plugins.plugin_utils.render_workers import RenderError, RenderJob, RenderShare, render_all

display = Display()
# The bucket digests of a push (module_utils/profile_buckets.py), each phone's bucket and fingerprint by fleet index.
Buckets = collections.namedtuple('Buckets', 'count digests of_entry fingerprints')
MODULE = 'phoneprov.mpp.phone_profiles'
ARGUMENT_SPEC = task_argument_spec(path_type='str')
MIN_RECORD_SIZE = 18


class _Fail(Exception):
    pass


class ActionModule(ActionBase):
    """Render every phone's profile on the controller and publish them in one transfer."""

    TRANSFERS_FILES = True
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    @classmethod
    def finalize_task_arg(cls, name, value, templar, context):
        """Resolve ``phones`` only down to the list (ansible-core 2.19+): each entry is resolved in
        ``check_phones``, so an entry whose values fail to template is named in the error.
        Older releases never call this: they template every argument before the action runs."""
        if name == 'phones' and hasattr(templar, 'resolve_to_container'):
            return templar.resolve_to_container(value)
        return super(ActionModule, cls).finalize_task_arg(name, value, templar, context)

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        local_tmp = None
        self._t0 = time.time()
        try:
            args = self._validate_args()
            phones, resolve_string = self._fleet(args, task_vars)
            entries = check_phones(phones, args, resolve_string)
            templates = self._load_templates(args, entries)
            self._mark('checked %d phones' % len(entries))
            local_tmp = tempfile.mkdtemp(dir=C.DEFAULT_LOCAL_TMP)
            module_args = dict((name, args[name]) for name in MODULE_ARGUMENTS)
            module_args['phones'] = []
            context = self._render_context(args, templates, task_vars)
            prints = fingerprints(context, entries) if context.digest is not None else None
            buckets = self._buckets(entries, prints)
            digest = push_digest(context, args, entries, prints)
            self._mark('push digest %s' % ('computed' if digest else 'not available: values that cannot be fingerprinted'))
            if digest:
                module_args['push_digest'] = digest
            if buckets:
                module_args['buckets'] = {'count': buckets.count, 'digests': buckets.digests}
            inventory = self._run_module(dict(module_args, inventory=True), task_vars)
            if inventory.get('failed'):
                inventory.pop('invocation', None)
                return inventory
            if inventory.get('fresh'):
                # The host published this very push and every file still verifies: nothing to render or send.
                self._mark('host inventory: push is current')
                return self._unchanged(result, args, entries, inventory, 0)
            host_hashes = inventory.get('hashes', {})
            clean = None
            if buckets and isinstance(inventory.get('dirty_buckets'), list):
                clean = set(range(buckets.count)) - set(inventory['dirty_buckets'])
                module_args['keep_buckets'] = sorted(clean)
            self._mark('host inventory: %d managed profiles, %d hashes sent%s' % (
                inventory.get('managed', 0), len(host_hashes),
                ', %d of %d buckets current' % (len(clean), buckets.count) if clean is not None else ''))
            payload_path = os.path.join(local_tmp, 'payload')
            job_extra = {'fingerprints': buckets.fingerprints if buckets else None,
                         'clean': (buckets.of_entry, clean) if clean else None}
            rendered = self._render(context, args, entries, host_hashes, payload_path, digest, job_extra)
            record_digest = digest and not self._play_context.check_mode
            if rendered['fresh'] == len(entries) and (not args['prune'] or inventory.get('managed') == rendered['matched']) and not record_digest:
                # Nothing to write, prune or record: the host need not see a payload at all.
                return self._unchanged(result, args, entries, inventory, rendered['rendered'])
            published = self._publish(module_args, payload_path, task_vars)
            old_contents = published.pop('old_contents', None) or {}
            if published.get('failed'):
                return published
            if clean:
                # The host lists the unchanged phones of the payload; those of the kept buckets are ours.
                listed = set(published.get('unchanged') or [])
                published['unchanged'] = [entry.mac for entry in entries if entry.mac in listed or buckets.of_entry[entry.index] in clean]
            published.pop('kept', None)
            result.update(published)
            result['rendered'] = rendered['rendered']
            if self._play_context.diff and published.get('changed'):
                result['diff'] = profile_diff(published, rendered['samples'], old_contents, args, entries)
            return result
        except (_Fail, PhoneEntryError, RenderError) as exc:
            result.update(failed=True, msg=to_native(exc))
            return result
        except FilenameError as exc:
            result.update(failed=True, msg='invalid arguments: %s' % to_native(exc))
            return result
        except AnsibleError:
            raise
        except Exception as exc:  # pylint: disable=broad-except
            result.update(failed=True, msg='phone_profiles failed unexpectedly: %s: %s' % (type(exc).__name__, to_native(exc)))
            return result
        finally:
            # The worker sends the task's arguments back to the controller's main process with the
            # result; a fleet of 100,000 phones would be pickled and unpickled for nothing.
            if isinstance(self._task.args.get('phones'), list):
                self._task.args['phones'] = '(%d phones)' % len(self._task.args['phones'])
            if local_tmp:
                shutil.rmtree(local_tmp, ignore_errors=True)
            self._remove_tmp_path(self._connection._shell.tmpdir)

    def _validate_args(self):
        """The task args, checked and with defaults; ``phones`` is checked apart (not deep-copied)."""
        raw = dict(self._task.args)
        phones = raw.pop('phones', None)
        spec = dict((name, value) for name, value in ARGUMENT_SPEC.items() if name != 'phones')
        validated = ArgumentSpecValidator(spec).validate(raw)
        if validated.error_messages:
            raise _Fail('invalid arguments: %s' % '; '.join(validated.error_messages))
        if phones is not None and not isinstance(phones, (list, tuple)):
            raise _Fail('phones must be a list of dicts, got %s' % type(phones).__name__)
        args = validated.validated_parameters
        if not args['template'] and not args['templates']:
            raise _Fail('give template (one for all phones) or templates (per model), or both')
        if args['record_size'] < MIN_RECORD_SIZE:
            raise _Fail('record_size must be %d or more, got %d' % (MIN_RECORD_SIZE, args['record_size']))
        args['phones'] = phones
        return args

    def _fleet(self, args, task_vars):
        """The fleet, ``phones`` or read from ``phones_from`` on the controller (never an inventory
        variable), and how to resolve its strings."""
        phones, phones_from = args['phones'], args['phones_from']
        if not phones_from:
            if phones is None:
                raise _Fail('missing required argument: phones (or phones_from)')
            return phones, self._resolve_string
        if phones:
            raise _Fail('give phones or phones_from, not both: phones has %d entries, phones_from reads %s'
                        % (len(phones), ', '.join(phones_from)))
        try:
            paths = resolve_paths(phones_from, (task_vars.get('inventory_dir'), task_vars.get('playbook_dir')))
            fleet = read_fleet_data(paths, self._loader)
        except AnsibleError as exc:
            raise _Fail('phones_from: %s' % to_native(exc))
        self._mark('read %d phones from %s' % (len(fleet.phones), ', '.join(paths)))
        if fleet.plain:
            return fleet.phones, None  # plain data already: nothing to resolve, nothing to copy
        return fleet.phones, lambda text: plain_data(resolve_file_string(self._templar, text), str)

    def _resolve_string(self, text):
        """A fleet string as ``str``, templated first if it may be a template (2.19+). Before 2.19,
        ``str`` keeps a value marked unsafe (a lookup's, a registered result's) as it is, so that
        nothing templates it again (core_compat.final_value marks every resolved value anyway)."""
        if not possibly_template(text):
            return str(text)  # what the templar would give back: no templar call for each plain string
        return plain_data(resolve_fleet_string(self._templar, text), str)

    def _mark(self, what):
        display.vv('phone_profiles: %s at %.2f s' % (what, time.time() - self._t0))

    def _load_templates(self, args, entries):
        """Dict template name -> LoadedTemplate, for the templates the phones use."""
        loaded = {}
        for name in set(entry.template for entry in entries):
            try:
                path = self._find_needle('templates', name)
                text = read_text_file(self._loader, path)
            except AnsibleError as exc:
                raise _Fail('template %s: %s' % (name, to_native(exc)))
            tvars = generate_ansible_template_vars(path=name, fullpath=path, dest_path=args['dest'])
            loaded[name] = LoadedTemplate(trust_as_template(text), path, tvars)
        return loaded

    @staticmethod
    def _unchanged(result, args, entries, inventory, rendered):
        """The task's result when the host need not see a payload at all."""
        macs = [entry.mac for entry in entries]
        result.update(changed=False, created=[], updated=[], removed=[], unchanged=macs,
                      counts=dict(created=0, updated=0, removed=0, unchanged=len(macs), total=len(macs)),
                      dest=args['dest'], manifest=inventory.get('manifest'), shipped=0, rendered=rendered)
        return result

    def _render_context(self, args, templates, task_vars):
        """The render context (render_context.build_render_context), built once per task."""
        searchpath = template_searchpath(task_vars, self._loader.get_basedir(), templates)
        context = build_render_context(self._templar, searchpath, args, templates, task_vars)
        self._mark('%d template variables resolved once for all phones, %d per phone' % (len(context.shared), len(context.per_phone)))
        return context

    def _buckets(self, entries, prints):
        """Every phone's bucket and the bucket digests (module_utils/profile_buckets.py) from the
        phones' render fingerprints ``prints``; None when a phone has none (or there are no phones)."""
        if not prints or any(render is None for render in prints):
            return None
        count = bucket_count(len(entries))
        digests = bucket_digests(((entry.filename, render) for entry, render in zip(entries, prints)), count)
        self._mark('%d buckets' % count)
        return Buckets(count, digests, [bucket_of(entry.filename, count) for entry in entries], prints)

    def _render(self, context, args, entries, host_hashes, payload_path, digest, job_extra):
        """Render every phone into ``payload_path`` (render_workers.render_all); the counts.

        With a push digest (and no diff, which needs each profile's text), the profiles are shared
        with the other hosts of this run that receive the same push (render_workers.RenderShare):
        each is rendered once per run."""
        diff = self._play_context.diff
        if digest is None or diff:
            job = RenderJob(args, self._play_context.check_mode, diff, host_hashes, **job_extra)
            rendered = render_all(context, job, entries, payload_path)
        else:
            with RenderShare(C.DEFAULT_LOCAL_TMP, digest) as share:
                job = RenderJob(args, self._play_context.check_mode, diff, host_hashes, share.read(), **job_extra)
                rendered = render_all(context, job, entries, payload_path, share)
        self._mark('%d profiles: %d rendered, %d from other hosts of this run, %d unchanged (%d render workers, %d rendered directly)'
                   % (len(entries), rendered['rendered'], rendered['shared'], rendered['matched'], rendered['workers'], rendered['direct']))
        return rendered

    def _publish(self, module_args, payload_path, task_vars):
        """Transfer the payload and run the module on it; the module's result."""
        shell = self._connection._shell
        remote_payload = shell.join_path(shell.tmpdir, 'phone_profiles.payload')
        self._transfer_file(payload_path, remote_payload)
        self._fixup_perms2((shell.tmpdir, remote_payload))
        published = self._run_module(dict(module_args, payload=remote_payload), task_vars)
        published.pop('invocation', None)
        self._mark('published')
        return published

    def _run_module(self, module_args, task_vars):
        if self._connection._shell.tmpdir is None:
            self._make_tmp_path()
        return self._execute_module(module_name=MODULE, module_args=module_args, task_vars=task_vars)
