# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The GitOps pipeline examples (docs/gitops/) keep production secrets out of merge/pull request jobs.

A merge request's pipeline runs the branch's own code, so whatever secret such a job can read, anyone
who can push a branch can print. The secret naming convention of docs/gitops/README.md: secrets a
preview may hold are named ``PREVIEW_*``; every other secret is a production one (``PROD_*``) and
appears only in jobs that run on the default branch in a protected environment. Host keys are pinned.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / 'docs'
# Markdown files whose ```yaml blocks must load (the pipeline docs); host-key checks cover all docs.
YAML_DOCS = [DOCS / 'gitops' / 'README.md', DOCS / 'awx.md']
TEXT_SUFFIXES = {'.md', '.yml', '.yaml', '.cfg', '.ini', '.sh', '.j2', '.txt', '.json'}

HOST_KEY_CHECKING_OFF = [
    re.compile(r'StrictHostKeyChecking\s*[= ]\s*["\']?(no|off|false|accept-new)\b', re.I),
    re.compile(r'UserKnownHostsFile\s*[= ]\s*/dev/null', re.I),
    re.compile(r'host_key_checking["\']?\s*[=:]\s*["\']?(false|no|off|0)\b', re.I),
]
PINNED_ACTION = re.compile(r'^[\w.-]+/[\w./-]+@[0-9a-f]{40}$')
GITHUB_SECRET = re.compile(r'secrets\.([A-Za-z_][A-Za-z0-9_]*)')
# $NAME or ${NAME} in a GitLab job; names GitLab defines or the job defines itself are not secrets.
GITLAB_VARIABLE = re.compile(r'(?<!\\)\$\{?([A-Za-z_][A-Za-z0-9_]*)')
SHELL_VARIABLE = re.compile(r'(?:^|[\s;(])([A-Za-z_][A-Za-z0-9_]*)=|\bfor\s+([A-Za-z_][A-Za-z0-9_]*)\s+in\b'
                            r'|\bread\s+(?:-r\s+)?([A-Za-z_][A-Za-z0-9_]*)')
GITLAB_PREDEFINED = re.compile(r'^(CI|GITLAB|RUNNER)_|^(HOME|PWD|PATH|USER|SHELL|TMPDIR)$')
GITLAB_RESERVED = {'default', 'include', 'stages', 'variables', 'workflow', 'image', 'services', 'cache',
                   'before_script', 'after_script'}
PULL_REQUEST_EVENTS = {'pull_request', 'pull_request_target', 'pull_request_review', 'pull_request_review_comment',
                       'issue_comment', 'workflow_run'}
PROTECTED_EVENTS = {'push', 'workflow_dispatch', 'schedule'}


def preview_secret(name):
    """A secret a preview job may hold: PREVIEW_* (and GitHub's per-run token)."""
    return name.startswith('PREVIEW_') or name == 'GITHUB_TOKEN'


def fenced_yaml_blocks(path):
    """(line number, text) of each ```yaml block of a markdown file."""
    blocks, current, start = [], None, 0
    for number, line in enumerate(path.read_text(encoding='utf-8').splitlines(), 1):
        stripped = line.strip()
        if current is None and stripped in ('```yaml', '```yml'):
            current, start = [], number
        elif current is not None and stripped.startswith('```'):
            blocks.append((start, '\n'.join(current)))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def pipeline_documents():
    """(label, kind, data) of every pipeline example: files under docs/ and examples/, and the
    pipelines shown in ```yaml blocks of the docs. kind is 'github' or 'gitlab'."""
    found = []
    for path in sorted(list(DOCS.rglob('*')) + list((REPO / 'examples').rglob('*'))):
        if not path.is_file() or path.suffix not in ('.yml', '.yaml'):
            continue
        label = str(path.relative_to(REPO))
        if path.name.endswith('gitlab-ci.yml'):
            found.append((label, 'gitlab', yaml.safe_load(path.read_text(encoding='utf-8'))))
        elif path.parent.name == 'workflows' and path.parent.parent.name in ('github', '.github'):
            found.append((label, 'github', yaml.safe_load(path.read_text(encoding='utf-8'))))
    for path in sorted(DOCS.rglob('*.md')):
        for line, text in fenced_yaml_blocks(path):
            data = yaml.safe_load(text)
            kind = pipeline_kind(data)
            if kind:
                found.append(('%s:%d' % (path.relative_to(REPO), line), kind, data))
    return found


def pipeline_kind(data):
    """'github' for a workflow, 'gitlab' for a GitLab CI file, None for other YAML."""
    if not isinstance(data, dict):
        return None
    if 'jobs' in data and ('on' in data or True in data):
        return 'github'
    if any(isinstance(job, dict) and 'script' in job for job in data.values()):
        return 'gitlab'
    return None


PIPELINES = pipeline_documents()
GITHUB = [(label, data) for label, kind, data in PIPELINES if kind == 'github']
GITLAB = [(label, data) for label, kind, data in PIPELINES if kind == 'gitlab']


def ids(pipelines):
    return [label for label, _data in pipelines]


def test_both_platforms_have_examples():
    assert GITHUB and GITLAB, 'no pipeline examples found: %s' % ids(PIPELINES)


@pytest.mark.parametrize('path', YAML_DOCS, ids=lambda path: path.name)
def test_yaml_blocks_of_the_pipeline_docs_load(path):
    for line, text in fenced_yaml_blocks(path):
        try:
            yaml.safe_load(text)
        except yaml.YAMLError as error:
            pytest.fail('%s:%d: the yaml block does not load: %s' % (path.name, line, error))


def test_no_example_turns_host_key_checking_off():
    offenders = []
    for path in sorted(list(DOCS.rglob('*')) + list((REPO / 'examples').rglob('*'))):
        if path.is_file() and (path.suffix in TEXT_SUFFIXES or path.name.startswith('.')):
            for number, line in enumerate(path.read_text(encoding='utf-8').splitlines(), 1):
                offenders += ['%s:%d: %s' % (path.relative_to(REPO), number, line.strip())
                              for pattern in HOST_KEY_CHECKING_OFF if pattern.search(line)]
    assert not offenders, 'host key checking turned off:\n' + '\n'.join(offenders)


@pytest.mark.parametrize('label,data', GITHUB + GITLAB, ids=ids(GITHUB + GITLAB))
def test_ssh_pins_the_known_hosts(label, data):
    text = yaml.safe_dump(data)
    if 'ssh' in text.lower():
        assert 'StrictHostKeyChecking=yes' in text and 'UserKnownHostsFile=' in text, (
            '%s: SSH without pinned host keys (StrictHostKeyChecking=yes, UserKnownHostsFile=...)' % label)


def github_triggers(workflow):
    triggers = workflow.get('on', workflow.get(True))
    if isinstance(triggers, str):
        return {triggers: None}
    if isinstance(triggers, list):
        return dict.fromkeys(triggers)
    return dict(triggers or {})


@pytest.mark.parametrize('label,workflow', GITHUB, ids=ids(GITHUB))
def test_github_workflow(label, workflow):
    triggers = github_triggers(workflow)
    assert 'pull_request_target' not in triggers, '%s: pull_request_target runs with the base repository secrets' % label
    permissions = workflow.get('permissions')
    assert isinstance(permissions, dict) and permissions, '%s: no read-only default permissions' % label
    for job_name, job in workflow['jobs'].items():
        for scope in (permissions, job.get('permissions', {})):
            assert isinstance(scope, dict), '%s: job %s: permissions must be listed, not %r' % (label, job_name, scope)
            assert set(scope.values()) <= {'read', 'none'}, '%s: job %s: write permission %r' % (label, job_name, scope)
        for step in job.get('steps', []):
            action = step.get('uses')
            if action and not action.startswith('./'):
                assert PINNED_ACTION.match(action), '%s: job %s: %s is not pinned by commit SHA' % (label, job_name, action)


@pytest.mark.parametrize('label,workflow', GITHUB, ids=ids(GITHUB))
def test_github_production_secrets_only_behind_a_protected_environment(label, workflow):
    triggers = github_triggers(workflow)
    for job_name, job in workflow['jobs'].items():
        secrets = set(GITHUB_SECRET.findall(yaml.safe_dump(job)))
        production = sorted(name for name in secrets if not preview_secret(name))
        if set(triggers) & PULL_REQUEST_EVENTS:
            assert not production, '%s: job %s runs on pull requests with production secrets %s' % (label, job_name, production)
        if not production:
            continue
        assert set(triggers) <= PROTECTED_EVENTS, '%s: job %s has production secrets and runs on %s' % (
            label, job_name, sorted(triggers))
        branches = (triggers.get('push') or {}).get('branches')
        assert 'push' not in triggers or branches == ['main'], '%s: production jobs run on pushes to %s' % (label, branches)
        environment = job.get('environment')
        name = environment.get('name') if isinstance(environment, dict) else environment
        assert isinstance(name, str) and name and '${{' not in name, (
            '%s: job %s has production secrets %s outside a fixed protected environment (environment: %r)'
            % (label, job_name, production, environment))


def gitlab_jobs(pipeline):
    return {name: job for name, job in pipeline.items()
            if name not in GITLAB_RESERVED and not name.startswith('.') and isinstance(job, dict)}


def gitlab_secrets(pipeline, job):
    """Variables a job uses that neither GitLab nor the file defines: they come from the project's
    CI/CD settings, where the secrets are."""
    default = pipeline.get('default', {})
    parts = [job.get('script', []), job.get('before_script', default.get('before_script', [])),
             job.get('after_script', default.get('after_script', [])),
             list((job.get('variables') or {}).values()), list((pipeline.get('variables') or {}).values())]
    text = yaml.safe_dump(parts)
    defined = set(pipeline.get('variables') or {}) | set(job.get('variables') or {})
    defined.update(name for names in SHELL_VARIABLE.findall(text) for name in names if name)
    return {name for name in GITLAB_VARIABLE.findall(text) if name not in defined and not GITLAB_PREDEFINED.match(name)}


def default_branch_only(job):
    """Every rule that can start the job requires the default branch, and none is a merge request's."""
    rules = job.get('rules')
    if not rules or 'only' in job:
        return False
    for rule in rules:
        if rule.get('when') == 'never':
            continue
        condition = rule.get('if', '')
        if 'merge_request' in condition or not re.search(r'\$CI_COMMIT_BRANCH\s*==\s*\$CI_DEFAULT_BRANCH', condition):
            return False
    return True


@pytest.mark.parametrize('label,pipeline', GITLAB, ids=ids(GITLAB))
def test_gitlab_production_secrets_only_behind_a_protected_environment(label, pipeline):
    for job_name, job in gitlab_jobs(pipeline).items():
        production = sorted(name for name in gitlab_secrets(pipeline, job) if not preview_secret(name))
        if not production:
            continue
        assert default_branch_only(job), (
            '%s: job %s uses production secrets %s and can run outside the default branch (rules: %r)'
            % (label, job_name, production, job.get('rules')))
        environment = job.get('environment')
        name = environment.get('name') if isinstance(environment, dict) else environment
        assert isinstance(name, str) and name and '$' not in name, (
            '%s: job %s uses production secrets %s outside a fixed protected environment' % (label, job_name, production))


@pytest.mark.parametrize('label,pipeline', GITLAB, ids=ids(GITLAB))
def test_gitlab_merge_request_jobs_hold_no_production_secret(label, pipeline):
    for job_name, job in gitlab_jobs(pipeline).items():
        rules = job.get('rules')
        on_merge_requests = not rules or any('merge_request' in rule.get('if', '') for rule in rules)
        if on_merge_requests:
            production = sorted(name for name in gitlab_secrets(pipeline, job) if not preview_secret(name))
            assert not production, '%s: merge request job %s uses production secrets %s' % (label, job_name, production)
