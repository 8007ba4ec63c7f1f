# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One YAML document as plain Python data, the same data as PyYAML's safe loader gives.

Why: the safe loader first composes a node tree of the whole document (a node and two marks
for every scalar) and only then builds the data: for a 100,000-phone fleet that is 800 MB and
4 to 5 s. Here the data is built straight from libyaml's event stream, so only the data itself
stays in memory (about 170 MB, half the time). Scalars are resolved and constructed by the safe
loader's own resolver and constructors, a ``<<`` merge key of one mapping follows its rule, and
an alias is the very object its anchor built (shared, not copied, as the safe loader shares
it). Whatever this builder does not cover (collection tags such as ``!!set``, complex keys,
merges of several mappings, undefined, repeated or recursive anchors, more than one document)
is handed to the node-tree loader, which builds or refuses it as the safe loader would.
"""

from __future__ import annotations

import yaml
from yaml.events import (AliasEvent, DocumentEndEvent, MappingEndEvent, MappingStartEvent, ScalarEvent,
                         SequenceEndEvent, SequenceStartEvent, StreamEndEvent)
from yaml.nodes import ScalarNode, SequenceNode

try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeLoader as _SafeLoader

_STR, _MAP, _SEQ, _MERGE = ('tag:yaml.org,2002:' + name for name in ('str', 'map', 'seq', 'merge'))
_NON_SPECIFIC = (None, '!')
_NO_KEY, _MERGE_KEY = object(), object()


class _NodeTreeNeeded(Exception):
    """The document uses YAML the event builder leaves to the node-tree loader."""


def load_plain_yaml(raw):
    """The one document in ``raw`` (bytes or text) as plain data; yaml.YAMLError as the safe loader raises it."""
    loader = _SafeLoader(raw)
    try:
        return _EventBuilder(loader).document()
    except _NodeTreeNeeded:
        pass
    finally:
        loader.dispose()
    return yaml.load(raw, Loader=_NodeTreeLoader)  # nosec B506 - a safe loader


class _Open(object):
    """A mapping or sequence whose end event has not come yet."""

    __slots__ = ('value', 'is_list', 'anchor', 'key', 'merge_source')

    def __init__(self, value, anchor):
        self.value, self.is_list, self.anchor, self.key, self.merge_source = value, isinstance(value, list), anchor, _NO_KEY, None


class _EventBuilder(object):

    def __init__(self, loader):
        self.loader = loader
        self.anchors = {}  # anchor -> the value it built
        self.open_anchors = set()
        # resolve() looks only at plain scalars starting with one of these characters and answers
        # str for every other scalar: asked only where it can answer something else.
        resolvers = loader.yaml_implicit_resolvers
        self.resolved_starts = None if loader.yaml_path_resolvers or None in resolvers else resolvers

    def document(self):
        get_event = self.loader.get_event
        get_event()  # the stream start
        if isinstance(get_event(), StreamEndEvent):  # no document at all (an empty file)
            return None
        value = self._root(get_event)
        if not isinstance(get_event(), DocumentEndEvent) or not isinstance(get_event(), StreamEndEvent):
            raise _NodeTreeNeeded  # a second document: the loader names the error
        return value

    def _root(self, get_event):
        stack = []
        while True:
            event = get_event()
            kind = type(event)
            if kind is ScalarEvent:
                value = self._scalar(event)
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                stack.append(self._start(event, {} if kind is MappingStartEvent else []))
                continue
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                value = self._end(stack.pop())
            elif kind is AliasEvent:
                value = self.anchors.get(event.anchor, _NO_KEY)
                if value is _NO_KEY:  # undefined, or its collection still open (recursive)
                    raise _NodeTreeNeeded
            else:  # pragma: no cover - libyaml sends nothing else inside a document
                raise _NodeTreeNeeded
            if not stack:
                if value is _MERGE_KEY:
                    raise _NodeTreeNeeded
                return value
            collection = stack[-1]
            # Most events end here: an item of a list, or the value of a mapping's plain key.
            if value is not _MERGE_KEY:
                if collection.is_list:
                    collection.value.append(value)
                    continue
                if collection.key is not _NO_KEY and collection.key is not _MERGE_KEY:
                    collection.value[collection.key] = value
                    collection.key = _NO_KEY
                    continue
            self._key_or_merge(collection, value)

    def _scalar(self, event):
        tag = event.tag
        if tag is None and self.resolved_starts and not (event.implicit[0] and event.value[:1] in self.resolved_starts):
            tag = _STR
        elif tag in _NON_SPECIFIC:
            tag = self.loader.resolve(ScalarNode, event.value, event.implicit)
        if tag == _STR:
            value = event.value
        elif tag == _MERGE:
            value = _MERGE_KEY
        else:
            constructor = self.loader.yaml_constructors.get(tag)
            if constructor is None:
                raise _NodeTreeNeeded
            value = constructor(self.loader, ScalarNode(tag, event.value, style=event.style))
        self._anchor(event.anchor, value)
        return value

    def _start(self, event, value):
        if event.tag not in _NON_SPECIFIC and event.tag != (_MAP if isinstance(value, dict) else _SEQ):
            raise _NodeTreeNeeded
        if event.anchor is not None:
            if event.anchor in self.anchors or event.anchor in self.open_anchors:
                raise _NodeTreeNeeded
            self.open_anchors.add(event.anchor)
        return _Open(value, event.anchor)

    def _end(self, collection):
        value = collection.value
        if collection.key is not _NO_KEY:  # pragma: no cover - libyaml pairs every key
            raise _NodeTreeNeeded
        if collection.merge_source is not None:
            # The safe loader's merge: the merged keys first, the mapping's own keys over them.
            merged = dict(collection.merge_source)
            merged.update(value)
            value = merged
        if collection.anchor is not None:
            self.open_anchors.discard(collection.anchor)
            self.anchors[collection.anchor] = value
        return value

    def _key_or_merge(self, collection, value):
        """A mapping's next key, or the value of its ``<<``: what _root leaves to this."""
        if value is _MERGE_KEY and (collection.is_list or collection.key is not _NO_KEY):
            raise _NodeTreeNeeded  # ``<<`` anywhere but as a key: the safe loader refuses it
        if collection.key is _MERGE_KEY:
            collection.key = _NO_KEY
            self._merge(collection, value)
        elif isinstance(value, (dict, list)):
            raise _NodeTreeNeeded  # a complex key
        else:
            collection.key = value

    @staticmethod
    def _merge(collection, value):
        # One ``<<: *defaults`` a mapping, the common case, which every PyYAML merges alike. A list
        # of sources or a second ``<<`` PyYAML 6.0.2 orders otherwise than earlier versions: the
        # node-tree loader gives what the installed one does, as group_vars would.
        if not isinstance(value, dict) or collection.merge_source is not None:
            raise _NodeTreeNeeded
        collection.merge_source = value

    def _anchor(self, anchor, value):
        if anchor is not None:
            if value is _MERGE_KEY or anchor in self.anchors or anchor in self.open_anchors:
                raise _NodeTreeNeeded
            self.anchors[anchor] = value


class _NodeTreeLoader(_SafeLoader):
    """The safe loader, refusing data that contains itself (an alias inside the collection it
    names), which no phone entry can be and every later step would recurse into forever."""

    def construct_document(self, node):
        _refuse_cycles(node)
        return super(_NodeTreeLoader, self).construct_document(node)


def _refuse_cycles(root):
    done, on_path = set(), set()
    stack = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        if leaving:
            on_path.discard(id(node))
            done.add(id(node))
            continue
        if id(node) in on_path:
            raise yaml.constructor.ConstructorError(None, None, 'an alias refers to a node that contains it', node.start_mark)
        if id(node) in done or isinstance(node, ScalarNode):
            continue
        on_path.add(id(node))
        stack.append((node, True))
        children = node.value if isinstance(node, SequenceNode) else [part for pair in node.value for part in pair]
        stack.extend((child, False) for child in reversed(children))
