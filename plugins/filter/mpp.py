# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the Cisco MPP rules in module_utils; each is documented in its own .yml file."""

from __future__ import annotations

import functools

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.phoneprov.mpp.plugins.module_utils import cn as cn_rule
from ansible_collections.phoneprov.mpp.plugins.module_utils import mac as mac_rule
from ansible_collections.phoneprov.mpp.plugins.module_utils.client_subject import SubjectError
from ansible_collections.phoneprov.mpp.plugins.module_utils.client_subject import client_subject as parse_client_subject
from ansible_collections.phoneprov.mpp.plugins.module_utils import firmware as firmware_rule
from ansible_collections.phoneprov.mpp.plugins.module_utils.flat_profile import ProfileError, render_flat_profile
from ansible_collections.phoneprov.mpp.plugins.module_utils.http_behavior import http_behavior as status_behavior
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_filename import FilenameError
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_filename import profile_rule_name as rule_name


def _wrap(name, func, errors):
    def filter_function(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except errors as exc:
            raise AnsibleFilterError('phoneprov.mpp.%s: %s' % (name, to_native(exc)))
    filter_function.__name__ = name
    return filter_function


def cn_fqdn(common_name):
    return cn_rule.cn_fqdn(common_name)


def cn_valid(common_name):
    return cn_rule.cn_valid(common_name)


def mac(value):
    return mac_rule.normalize_mac(value)


def mac_colon(value):
    return mac_rule.mac_colon(value)


def http_behavior(status, resync_fails_on_fnf=True):
    return status_behavior(status, resync_fails_on_fnf=resync_fails_on_fnf)


def client_subject(subject):
    return parse_client_subject(subject)


def flat_profile(parameters):
    if isinstance(parameters, (list, tuple)):
        # Several dicts, later ones winning: one call renders a whole profile built from parts.
        merged = {}
        for part in parameters:
            if not isinstance(part, dict):
                raise ProfileError('a list of parameters holds dicts of name: value, got %s' % type(part).__name__)
            merged.update(part)
        parameters = merged
    return render_flat_profile(parameters)


@functools.lru_cache(maxsize=64)
def _rule_name(pattern):
    return rule_name(pattern)


def profile_rule_name(pattern):
    # Once per pattern: the default template asks for it for every phone of a push.
    return _rule_name(str(pattern)) if isinstance(pattern, str) else rule_name(pattern)


def firmware_files(phones, firmware):
    # Reads every file on the controller: the role calls it once per push, in one set_fact.
    return firmware_rule.verify_images(firmware_rule.fleet_images(phones, firmware))


def upgrade_parameters(phone, firmware, base_url, retry_delay=3600):
    where = 'phone (mac %s)' % phone.get('mac') if isinstance(phone, dict) else 'phone'
    image = firmware_rule.phone_image(where, phone, firmware)
    return firmware_rule.upgrade_parameters(image, base_url, retry_delay)


class FilterModule(object):
    """Cisco MPP provisioning filters."""

    def filters(self):
        return {
            'cn_fqdn': _wrap('cn_fqdn', cn_fqdn, (cn_rule.CNError,)),
            'cn_valid': cn_valid,
            'mac': _wrap('mac', mac, (mac_rule.MACError,)),
            'mac_colon': _wrap('mac_colon', mac_colon, (mac_rule.MACError,)),
            'http_behavior': _wrap('http_behavior', http_behavior, (ValueError,)),
            'client_subject': _wrap('client_subject', client_subject, (SubjectError,)),
            'flat_profile': _wrap('flat_profile', flat_profile, (ProfileError,)),
            'profile_rule_name': _wrap('profile_rule_name', profile_rule_name, (FilenameError,)),
            'firmware_files': _wrap('firmware_files', firmware_files, (firmware_rule.FirmwareError,)),
            'upgrade_parameters': _wrap('upgrade_parameters', upgrade_parameters, (firmware_rule.FirmwareError,)),
        }
