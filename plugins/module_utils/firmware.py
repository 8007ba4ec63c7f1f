# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The firmware rule: which image each phone should run, and the Upgrade_Rule that gets it there.

``mpp_firmware`` maps a model to an image ``{version, file, sha256}`` (``file`` a path on the
controller). A phone entry may override its model's image with ``firmware_upgrade``: an image
mapping of its own, or ``false`` to hold the phone back. (``firmware`` in a phone entry is the
version phone_check's emulator runs, so the override has another name.)

The image is published in the provisioning server's shared directory under its file's base
name; the name must be one the server's shared location serves (no dot files, no ``/``).
"""

from __future__ import annotations

import hashlib
import os
import re

from ansible_collections.phoneprov.mpp.plugins.module_utils.phone_entry import describe_phone

OVERRIDE_KEY = 'firmware_upgrade'
# What a phone with no image gets: nothing (the template leaves the phone's upgrade settings alone).
# What a held-back phone gets: upgrades off and no rule, so a rule from an earlier profile stops.
HOLD_PARAMETERS = {'Upgrade_Enable': False, 'Upgrade_Rule': ''}

# The provisioning_server role's shared location serves names like this (site.conf.j2).
_FILE_NAME = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.-]*$')
# A version the rule's condition can hold unquoted: no space, no parenthesis, no macro.
_VERSION = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.+-]*$')
_SHA256 = re.compile(r'^[0-9a-fA-F]{64}$')
_CHUNK = 1 << 20


class FirmwareError(ValueError):
    """Unusable firmware data, or a file that is missing or does not match its sha256."""


def check_image(where, image):
    """The image ``{version, file, name, sha256}`` (sha256 lower-case); FirmwareError naming ``where``."""
    if not isinstance(image, dict):
        raise FirmwareError('%s: a firmware image is a mapping with version, file and sha256, got %s' % (where, type(image).__name__))
    unknown = sorted(set(image) - {'version', 'file', 'sha256'})
    if unknown:
        raise FirmwareError('%s: unknown key(s) %s; an image has version, file and sha256' % (where, ', '.join(map(str, unknown))))
    version, path, digest = image.get('version'), image.get('file'), image.get('sha256')
    if not isinstance(version, str) or not _VERSION.match(version):
        raise FirmwareError('%s: version %r is not a firmware version such as sip88xx.12-0-1MPP '
                            '(letters, digits, . _ + -; no spaces)' % (where, version))
    if not isinstance(path, str) or not path:
        raise FirmwareError('%s: file must be the path of the firmware file on the controller' % where)
    name = os.path.basename(path)
    if not _FILE_NAME.match(name):
        raise FirmwareError('%s: file name %r cannot be served from the shared directory '
                            '(letters, digits, . _ -, not starting with a dot)' % (where, name))
    if not isinstance(digest, str) or not _SHA256.match(digest):
        raise FirmwareError('%s: sha256 must be 64 hex digits (sha256sum %s)' % (where, path))
    return {'version': version, 'file': path, 'name': name, 'sha256': digest.lower()}


def check_catalog(catalog):
    """``mpp_firmware`` checked: model -> image (see check_image)."""
    if catalog is None:
        return {}
    if not isinstance(catalog, dict):
        raise FirmwareError('mpp_firmware must map a model to {version, file, sha256}, got %s' % type(catalog).__name__)
    return {model: check_image('mpp_firmware[%s]' % model, image) for model, image in catalog.items()}


def phone_image(where, phone, catalog):
    """The image a phone should run: None for none, False when held back.

    ``where`` names the phone in errors; ``catalog`` is ``mpp_firmware`` (only the image the
    phone uses is checked); the phone's ``firmware_upgrade`` wins over its model's image.
    """
    if not isinstance(phone, dict):
        return None
    override = phone.get(OVERRIDE_KEY)
    if override is False:
        return False
    if override is not None:
        return check_image('%s: %s' % (where, OVERRIDE_KEY), override)
    if catalog is not None and not isinstance(catalog, dict):
        check_catalog(catalog)
    model = phone.get('model')
    if not isinstance(model, str) or not catalog or model not in catalog:
        return None
    return check_image('mpp_firmware[%s]' % model, catalog[model])


def upgrade_rule(image, base_url):
    """``( $SWVER ne <version> )? <base_url><file name>``: a phone already on the version does not download."""
    return '( $SWVER ne %s )? %s%s' % (image['version'], base_url, image['name'])


def upgrade_parameters(image, base_url, retry_delay):
    """The profile parameters for a phone's image (phone_image's result)."""
    if image is None:
        return {}
    if image is False:
        return dict(HOLD_PARAMETERS)
    return {'Upgrade_Enable': True, 'Upgrade_Error_Retry_Delay': retry_delay, 'Upgrade_Rule': upgrade_rule(image, base_url)}


def fleet_images(phones, catalog):
    """The images a fleet uses, one per published file name, each with ``used_by`` (models, phones).

    Two images publishing the same name with another file or sha256 raise FirmwareError: the
    shared directory would hold only one of them.
    """
    catalog = check_catalog(catalog)
    by_name = {}

    def _add(image, user):
        known = by_name.get(image['name'])
        if known is None:
            by_name[image['name']] = known = dict(image, used_by=[])
        elif (known['file'], known['sha256']) != (image['file'], image['sha256']):
            raise FirmwareError('%s and %s both publish %s but with another file or sha256 (%s, %s)'
                                % (known['used_by'][0], user, image['name'], known['file'], image['file']))
        known['used_by'].append(user)

    for model in sorted(catalog):
        _add(catalog[model], 'model %s' % model)
    for index, phone in enumerate(phones or []):
        override = phone.get(OVERRIDE_KEY) if isinstance(phone, dict) else None
        if override is not None and override is not False:
            where = describe_phone(index, phone)
            _add(phone_image(where, phone, catalog), where)
    return [by_name[name] for name in sorted(by_name)]


def file_digests(path):
    """``(sha256, sha1)`` hex digests of the file at ``path``."""
    sha256, sha1 = hashlib.sha256(), hashlib.sha1()
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b''):
            sha256.update(chunk)
            sha1.update(chunk)
    return sha256.hexdigest(), sha1.hexdigest()


def verify_images(images):
    """Each image with ``sha1`` added (what ansible.builtin.copy checks after the transfer).

    Every file is read and checked before any is returned, so a mismatch publishes nothing;
    FirmwareError names every image whose file is missing or has another sha256.
    """
    problems, verified = [], []
    for image in images:
        users = ', '.join(image['used_by'][:3]) + (' and %d more' % (len(image['used_by']) - 3) if len(image['used_by']) > 3 else '')
        try:
            sha256, sha1 = file_digests(image['file'])
        except (IOError, OSError) as exc:
            problems.append('%s: cannot read %s on the controller: %s' % (users, image['file'], exc.strerror or exc))
            continue
        if sha256 != image['sha256']:
            problems.append('%s: %s has sha256 %s, not %s' % (users, image['file'], sha256, image['sha256']))
            continue
        verified.append(dict(image, sha1=sha1))
    if problems:
        raise FirmwareError('firmware not published (nothing copied): ' + '; '.join(problems))
    return verified
