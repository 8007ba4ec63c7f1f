# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of phoneprov.mpp.phone_profiles, written once for both halves of the module.

The action plugin (controller) validates the task with them; the module (managed host) gets the
same options plus its private ``payload`` and ``inventory``.
"""

from __future__ import annotations

from ansible_collections.phoneprov.mpp.plugins.module_utils.redaction import DEFAULT_REDACT

# What the action plugin passes on to the module: the options that concern the managed host.
MODULE_ARGUMENTS = ('dest', 'create_dest', 'manifest', 'mode', 'owner', 'group', 'prune')


def task_argument_spec(path_type='path'):
    """Options a user sets on the task.

    ``path_type`` is ``str`` on the controller, where ``template`` and ``dest`` must not be
    expanded (``dest`` is a path on the managed host), and ``path`` on the managed host.
    """
    return dict(
        phones=dict(type='list', elements='dict'),
        # Fleet files on the controller, read by the action (plugin_utils/fleet_source.py).
        phones_from=dict(type='list', elements='path'),
        template=dict(type=path_type),
        templates=dict(type='dict'),
        dest=dict(type=path_type, required=True),
        create_dest=dict(type='bool', default=False),
        filename=dict(type='str', default='$MA.xml'),
        compress=dict(type='bool', default=False),
        encrypt=dict(type='str', default='none', choices=['none', 'aes-256-cbc', 'rfc8188']),
        key_field=dict(type='str', default='key', no_log=False),
        key_encoding=dict(type='str', default='utf-8', choices=['utf-8', 'base64url', 'hex'], no_log=False),
        record_size=dict(type='int', default=4096),
        prune=dict(type='bool', default=False),
        manifest=dict(type='str', default='.phone_profiles.json'),
        diff_count=dict(type='int', default=3),
        redact=dict(type='list', elements='str', default=list(DEFAULT_REDACT)),
        render_cache=dict(type='bool', default=True),
        direct_render=dict(type='bool', default=True),
        render_workers=dict(type='int', default=0),
        mode=dict(type='raw', default='0640'),
        owner=dict(type='str'),
        group=dict(type='str'),
        # push-write: refuse profile keys under 128 bits (module_utils/profile_codec.py), or only warn.
        weak_keys=dict(type='str', default='refuse', choices=['refuse', 'warn'], no_log=False),
    )
