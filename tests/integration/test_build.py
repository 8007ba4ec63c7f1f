# -*- coding: utf-8 -*-
"""The collection builds, the tarball installs, and ansible-doc renders every plugin and role from it."""

from __future__ import annotations

import os
import subprocess

import pytest

from mpp_harness import BIN, REPO

MODULES = sorted(p.stem for p in (REPO / 'plugins' / 'modules').glob('*.py') if not p.stem.startswith('_'))
FILTERS = sorted(p.stem for p in (REPO / 'plugins' / 'filter').glob('*.yml'))
ROLES = sorted(p.name for p in (REPO / 'roles').iterdir() if (p / 'meta' / 'argument_specs.yml').exists()) \
    if (REPO / 'roles').is_dir() else []


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    out = tmp_path_factory.mktemp('dist')
    subprocess.run([str(BIN / 'ansible-galaxy'), 'collection', 'build', '--force', '--output-path', str(out), str(REPO)],
                   check=True, capture_output=True, text=True, cwd=str(out))
    tarballs = list(out.glob('phoneprov-mpp-*.tar.gz'))
    assert len(tarballs) == 1
    dest = tmp_path_factory.mktemp('collections')
    subprocess.run([str(BIN / 'ansible-galaxy'), 'collection', 'install', '--force', '-p', str(dest), str(tarballs[0])],
                   check=True, capture_output=True, text=True, cwd=str(out))
    assert (dest / 'ansible_collections' / 'phoneprov' / 'mpp' / 'MANIFEST.json').is_file()
    return dest


def _doc(installed, *args):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(installed), ANSIBLE_NOCOLOR='1')
    env.pop('ANSIBLE_CONFIG', None)
    return subprocess.run([str(BIN / 'ansible-doc')] + list(args), env=env, capture_output=True, text=True,
                          check=False, cwd=str(installed))


def test_filters_documented(installed):
    assert set(FILTERS) >= {'cn_fqdn', 'cn_valid', 'mac', 'mac_colon', 'http_behavior', 'client_subject', 'flat_profile'}
    for name in FILTERS:
        proc = _doc(installed, '-t', 'filter', 'phoneprov.mpp.%s' % name)
        assert proc.returncode == 0 and 'ERROR' not in proc.stderr, (name, proc.stderr)
        assert 'phoneprov.mpp.%s' % name in proc.stdout


@pytest.mark.parametrize('name', MODULES)
def test_module_documented(installed, name):
    proc = _doc(installed, 'phoneprov.mpp.%s' % name)
    assert proc.returncode == 0 and 'ERROR' not in proc.stderr, proc.stderr
    for section in ('OPTIONS', 'EXAMPLES', 'RETURN VALUES'):
        assert section in proc.stdout, (name, section)


@pytest.mark.parametrize('name', ROLES)
def test_role_documented(installed, name):
    proc = _doc(installed, '-t', 'role', 'phoneprov.mpp.%s' % name)
    assert proc.returncode == 0 and 'ERROR' not in proc.stderr, proc.stderr
    assert 'ENTRY POINT' in proc.stdout


def test_fleet_vars_plugin_documented(installed):
    proc = _doc(installed, '-t', 'vars', 'phoneprov.mpp.fleet')
    assert proc.returncode == 0 and 'ERROR' not in proc.stderr, proc.stderr
    assert 'phoneprov.mpp.fleet' in proc.stdout and 'directory' in proc.stdout and 'EXAMPLES' in proc.stdout
