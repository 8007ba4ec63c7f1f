# -*- coding: utf-8 -*-
"""AWX/AAP readiness: the execution environment definition and the collection's EE metadata.

``ansible-builder create`` must turn examples/ee/execution-environment.yml into a build context,
and ansible-builder's own introspection (the script it runs inside the image build) must find the
collection's Python and system requirements through meta/execution-environment.yml in the
installed collection. The image build itself needs a container engine and is not run here.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from conftest import BIN, REPO

BUILDER = BIN / 'ansible-builder'

pytestmark = pytest.mark.skipif(not BUILDER.exists(), reason='ansible-builder is not installed in the venv '
                                '(requirements-dev.txt lists it; run make setup)')


def _run(cmd, cwd):
    proc = subprocess.run([str(c) for c in cmd], cwd=str(cwd), capture_output=True, text=True, timeout=600,
                          check=False)
    assert proc.returncode == 0, 'command %s failed (rc=%s)\nstdout:\n%s\nstderr:\n%s' % (
        cmd, proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:])
    return proc


@pytest.fixture(scope='module')
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp('dist')
    _run([BIN / 'ansible-galaxy', 'collection', 'build', '--force', '--output-path', out, REPO], out)
    found = list(out.glob('phoneprov-mpp-*.tar.gz'))
    assert len(found) == 1
    return found[0]


def test_example_ee_definition_creates_a_build_context(tmp_path):
    context = tmp_path / 'context'
    proc = _run([BUILDER, 'create', '-f', REPO / 'examples' / 'ee' / 'execution-environment.yml',
                 '-c', context, '--output-filename', 'Containerfile'], tmp_path)
    assert 'Complete' in proc.stdout
    containerfile = (context / 'Containerfile').read_text()
    assert 'EE_BASE_IMAGE="quay.io/centos/centos:stream9"' in containerfile
    assert 'ansible-galaxy collection install' in containerfile or 'install-from-bindep' in containerfile
    requirements = yaml.safe_load((context / '_build' / 'requirements.yml').read_text())
    names = [c['name'] for c in requirements['collections']]
    assert any('phoneprov/mpp' in name for name in names), names


def test_ee_with_the_built_tarball(tmp_path, tarball):
    """The tarball variant the docs describe: the collection file copied into the build context."""
    shutil.copy(tarball, tmp_path / tarball.name)
    definition = yaml.safe_load((REPO / 'examples' / 'ee' / 'execution-environment.yml').read_text())
    definition['dependencies']['galaxy'] = {'collections': [{'name': tarball.name, 'type': 'file'}]}
    definition['additional_build_files'] = [{'src': tarball.name, 'dest': 'collections'}]
    definition['additional_build_steps'] = {'prepend_galaxy': ['COPY _build/collections/%s %s' % (tarball.name, tarball.name)]}
    (tmp_path / 'execution-environment.yml').write_text(yaml.safe_dump(definition))
    _run([BUILDER, 'create', '-f', 'execution-environment.yml', '-c', 'context', '--output-filename',
          'Containerfile'], tmp_path)
    assert (tmp_path / 'context' / '_build' / 'collections' / tarball.name).is_file()


def test_meta_execution_environment_is_found_by_introspection(tmp_path, tarball):
    dest = tmp_path / 'collections'
    _run([BIN / 'ansible-galaxy', 'collection', 'install', '--force', '-p', dest, tarball], tmp_path)
    installed = dest / 'ansible_collections' / 'phoneprov' / 'mpp'
    assert (installed / 'meta' / 'execution-environment.yml').is_file()
    proc = _run([BUILDER, 'introspect', '--sanitize', dest, '--write-pip', tmp_path / 'pip.txt',
                 '--write-bindep', tmp_path / 'bindep.txt'], tmp_path)
    pip = (tmp_path / 'pip.txt').read_text()
    bindep = (tmp_path / 'bindep.txt').read_text()
    for requirement in ('cryptography', 'dnspython', 'jinja2'):
        assert requirement in pip, (requirement, pip, proc.stdout)
    assert 'ansible-core' not in pip  # the EE's own ansible-core wins; introspection drops it
    for package in ('openssl', 'nginx'):
        assert package in bindep, (package, bindep)
    assert 'phoneprov.mpp' in pip
