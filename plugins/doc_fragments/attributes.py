# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The attributes the collection's modules share; use with ansible.builtin.action_common_attributes.

- ``phoneprov.mpp.attributes``: full check mode and diff mode, POSIX hosts (modules that write files).
- ``phoneprov.mpp.attributes.check_only``: full check mode, no diff, POSIX hosts (modules that only
  look, such as cn_dns_verify and phone_check).

A module adds ``details`` to an attribute in its own DOCUMENTATION; the rest comes from here.
"""

from __future__ import annotations


class ModuleDocFragment(object):  # pylint: disable=too-few-public-methods

    DOCUMENTATION = r'''
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
'''

    CHECK_ONLY = r'''
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
'''
