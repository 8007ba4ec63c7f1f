# -*- coding: utf-8 -*-
"""AWX/AAP readiness: the execution environment definition and the collection's EE metadata.

``ansible-builder create`` must turn examples/ee/execution-environment.yml into a build context,
and ansible-builder's own introspection (the script it runs inside the image build) must find the
collection's Python and system requirements through meta/execution-environment.yml in the
installed collection. The image build itself needs a container engine and is not run here.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from mpp_harness import BIN, REPO, import_playbook_text

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


STAGES = ('site', 'request_csr', 'install_cert', 'provisioning_server', 'push_profiles', 'verify')


def test_collection_playbooks_from_the_installed_tarball(tmp_path, tarball):
    """What an AWX project does: one-line playbooks importing phoneprov.mpp.<stage> from the
    collection installed from the tarball (not the checkout), with the lab inventory."""
    dest = tmp_path / 'collections'
    _run([BIN / 'ansible-galaxy', 'collection', 'install', '--force', '-p', dest, tarball], tmp_path)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(dest), ANSIBLE_NOCOLOR='1')
    env.pop('ANSIBLE_CONFIG', None)
    for stage in STAGES:
        project_playbook = tmp_path / ('%s.yml' % stage)
        project_playbook.write_text(import_playbook_text([('Stage %s' % stage, 'phoneprov.mpp.%s' % stage)]))
        for playbook in (project_playbook, 'phoneprov.mpp.%s' % stage):
            proc = subprocess.run([str(BIN / 'ansible-playbook'), '-i', str(REPO / 'examples' / 'lab' / 'inventory.yml'),
                                   '--syntax-check', str(playbook)], cwd=str(tmp_path), env=env,
                                  capture_output=True, text=True, timeout=300, check=False)
            assert proc.returncode == 0, (stage, playbook, proc.stdout[-2000:], proc.stderr[-2000:])
    # site.yml lists the stages in order, each under its tag.
    proc = subprocess.run([str(BIN / 'ansible-playbook'), '-i', str(REPO / 'examples' / 'lab' / 'inventory.yml'),
                           '--list-tags', 'phoneprov.mpp.site'], cwd=str(tmp_path), env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    for tag in ('cert', 'server', 'profiles', 'verify'):
        assert tag in proc.stdout, (tag, proc.stdout)


def _jobs_by_name(document):
    return dict((name, job) for name, job in document.items() if isinstance(job, dict) and 'script' in job)


def test_gitops_examples_check_on_review_apply_on_main():
    """The documented pipelines do what docs/gitops/README.md says: --check --diff for a merge
    request (pull request), a real run only on the main branch."""
    gitlab = yaml.safe_load((REPO / 'docs' / 'gitops' / '.gitlab-ci.yml').read_text())
    jobs = _jobs_by_name(gitlab)
    preview, apply = ' '.join(jobs['preview']['script']), ' '.join(jobs['apply']['script'])
    assert 'phoneprov.mpp.site' in preview and '--check' in preview and '--diff' in preview
    assert 'phoneprov.mpp.site' in apply and '--check' not in apply
    assert [r['if'] for r in jobs['preview']['rules']] == ['$CI_PIPELINE_SOURCE == "merge_request_event"']
    assert [r['if'] for r in jobs['apply']['rules']] == ['$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH']

    preview = yaml.safe_load((REPO / 'docs' / 'gitops' / 'github' / 'workflows' / 'preview.yml').read_text())
    steps = dict((step.get('name'), step) for step in preview['jobs']['preview']['steps'])
    assert '--check --diff' in steps['Preview (pull request)']['run'] and list(preview['on']) == ['pull_request']
    deploy = yaml.safe_load((REPO / 'docs' / 'gitops' / 'github' / 'workflows' / 'deploy.yml').read_text())
    steps = dict((step.get('name'), step) for step in deploy['jobs']['apply']['steps'])
    assert '--check' not in steps['Apply (main)']['run']
    assert deploy['on']['push']['branches'] == ['main']
