# -*- coding: utf-8 -*-
"""YAML straight from the event stream (plugin_utils/plain_yaml.py): the same data, type for type
and key order for key order, as PyYAML's safe loader, and the node tree only where it is needed."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.phoneprov.mpp.plugins.plugin_utils import plain_yaml

# What the event builder builds itself: every scalar type the safe loader resolves, tags it
# constructs, anchors and aliases, one merged mapping, block and flow styles.
BUILT_FROM_EVENTS = [
    '',
    '---\n',
    '~\n',
    'just a string\n',
    '- a\n- 1\n- 1.5\n- true\n- null\n- 2024-01-02\n- 0o17\n- 0x1f\n- .inf\n- -.5e3\n- 1_000\n- 190:20:30\n',
    "a: yes\nb: No\nc: ON\nd: off\ne: y\nf: '5060'\ng: \"\\u00e9\\n\"\n",
    '1: one\n2.5: x\ntrue: t\nnull: n\n2024-01-02: d\n',
    'a: 2001-12-14t21:59:43.10-05:00\nb: !!binary aGVsbG8=\n',
    "- !!str 42\n- !!int '42'\n- !!null ''\n- !!bool 'yes'\n- !!float '1'\n- ! 42\n",
    'a: !!map {b: c}\nb: !!seq [d]\n',
    'a: 1\na: 2\n',
    "a: 'multi\n  line'\nb: |\n  literal\n  block\nc: >\n  folded\n  text\n",
    '%YAML 1.1\n---\na: 1\n...\n',
    '\ufeffa: bom\n',
    'mpp_phones:\n- &first {mac: 0a0000000001, lines: &lines [{user_id: "1001"}]}\n- {mac: 0a0000000002, lines: *lines}\n'
    '- *first\n- &s scalar\n- *s\n',
    # One merged mapping: its keys first, the mapping's own over them; merges inside merges.
    'defaults: &d {model: CP-8841-3PCC, proxy: sip.example.test, port: 5060}\n'
    'phone:\n  <<: *d\n  port: 5061\n  mac: 0a0000000001\n',
    'a: &m {<<: {q: 1, r: 1}, r: 2}\nb: {<<: *m, r: 3, s: 4}\n',
    "m: {'<<': not a merge}\n",
]

# What it hands to the node-tree loader: PyYAML builds or refuses these, version by version.
LEFT_TO_THE_NODE_TREE = [
    'a: &a {x: 1, y: 1}\nb: &b {x: 2, z: 2}\nm:\n  <<: [*a, *b]\n  w: 0\n',
    'a: &a {x: 1}\nb: &b {x: 2}\nm:\n  <<: *a\n  <<: *b\n',
    'm: {<<: 5}\n',
    'a: &a [1, 2]\nm:\n  <<: *a\n',
    'm: [<<]\n',
    'a: <<\n',
    '? [a, b]\n: c\n',
    '? {a: b}\n: c\n',
    'a: *undefined\n',
    'a: &x 1\nb: &x 2\nc: *x\n',
    '--- a\n--- b\n',
    'a: !!set {x, y}\n',
    'a: !!omap [b: c]\n',
    'a: !custom x\n',
    '=: value key\n',
]


def typed(value):
    """``value`` with every item's type and the mappings' key order, to compare exactly."""
    if isinstance(value, dict):
        return ('dict', [(typed(key), typed(item)) for key, item in value.items()])
    if isinstance(value, list):
        return ('list', [typed(item) for item in value])
    return (type(value).__name__, value)


# The safe loader on libyaml where PyYAML has it, as the builder: the error texts are libyaml's.
SAFE_LOADER = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)


def safe_loader_gives(text):
    try:
        return ('data', typed(yaml.load(text, Loader=SAFE_LOADER)))  # nosec B506 - the safe loader
    except yaml.YAMLError as exc:
        return ('error', type(exc).__name__, str(exc))


def builder_gives(text):
    try:
        return ('data', typed(plain_yaml.load_plain_yaml(text)))
    except yaml.YAMLError as exc:
        return ('error', type(exc).__name__, str(exc))


@pytest.fixture
def node_tree_calls(monkeypatch):
    calls = []
    real = plain_yaml._NodeTreeLoader.construct_document

    def counted(self, node):
        calls.append(node)
        return real(self, node)
    monkeypatch.setattr(plain_yaml._NodeTreeLoader, 'construct_document', counted)
    return calls


@pytest.mark.parametrize('text', BUILT_FROM_EVENTS)
def test_built_from_events_as_the_safe_loader_builds_it(text, node_tree_calls):
    assert builder_gives(text) == safe_loader_gives(text)
    assert builder_gives(text.encode('utf-8')) == safe_loader_gives(text)
    assert not node_tree_calls, 'built from the node tree, not from the events'


@pytest.mark.parametrize('text', LEFT_TO_THE_NODE_TREE)
def test_the_rest_goes_to_the_node_tree_with_the_safe_loaders_result(text):
    assert builder_gives(text) == safe_loader_gives(text)


def test_errors_are_the_parsers_own_with_line_and_column():
    text = 'mpp_phones:\n- mac: 0a0000000001\n  lines: [unclosed\n- mac: 0a0000000002\n'
    given = builder_gives(text)
    assert given == safe_loader_gives(text) and given[0] == 'error', given
    assert 'line 4, column' in given[2], given


def test_an_alias_is_the_object_its_anchor_built():
    data = plain_yaml.load_plain_yaml('- &lines [{user_id: "1"}]\n- *lines\n- {<<: &d {a: 1}, b: 2}\n- *d\n')
    assert data[1] is data[0] and data[3] is not data[2] and data[3] == {'a': 1}
    assert data[2] == {'a': 1, 'b': 2}, 'a merge builds a new mapping, the anchored one unchanged'


@pytest.mark.parametrize('text', ['- &loop [*loop]\n', 'a: &m {b: *m}\n'])
def test_data_that_contains_itself_is_refused(text):
    with pytest.raises(yaml.YAMLError, match='an alias refers to a node that contains it'):
        plain_yaml.load_plain_yaml(text)


def test_aliases_of_aliases_stay_shared(node_tree_calls):
    levels = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]']
    for level in range(1, 9):
        levels.append('a%d: &a%d [%s]' % (level, level, ', '.join(['*a%d' % (level - 1)] * 10)))
    data = plain_yaml.load_plain_yaml('{%s}\n' % ', '.join(levels))  # 10 ** 9 strings if copied
    assert data['a8'][0] is data['a7'] and data['a1'][9] is data['a0'] and not node_tree_calls
