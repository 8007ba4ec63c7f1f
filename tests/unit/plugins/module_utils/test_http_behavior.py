# -*- coding: utf-8 -*-
from __future__ import annotations

import pytest

from ansible_collections.phoneprov.mpp.plugins.module_utils.http_behavior import (
    http_behavior, next_try_parameter, status_reason)


@pytest.mark.parametrize('status, behavior', [
    (200, 'A'), ('200', 'A'),
    (301, 'redirect'), (302, 'redirect'),
    (300, 'C'), (303, 'C'), (304, 'C'), (307, 'C'), (308, 'C'),
    (400, 'C'), (403, 'C'),
    (401, 'auth'), (407, 'auth'),
    (404, 'B'),
    (405, 'C'), (410, 'C'), (418, 'C'), (429, 'C'),
    (500, 'C'), (501, 'C'), (502, 'C'), (503, 'C'), (504, 'C'), (505, 'C'), (599, 'C'),
    (100, 'C'), (204, 'C'), (206, 'C'),
])
def test_table_3_1(status, behavior):
    assert http_behavior(status) == behavior


def test_resync_fails_on_fnf_switch():
    assert http_behavior(404, resync_fails_on_fnf=False) == 'A'
    assert http_behavior(403, resync_fails_on_fnf=False) == 'C'
    assert http_behavior(200, resync_fails_on_fnf=False) == 'A'


@pytest.mark.parametrize('bad', [99, 600, 'x', None, True, -1])
def test_bad_status(bad):
    with pytest.raises(ValueError, match='HTTP status'):
        http_behavior(bad)


def test_next_try_and_reason():
    assert next_try_parameter('A') == 'Resync_Periodic'
    assert next_try_parameter('B') == next_try_parameter('C') == 'Resync_Error_Retry_Delay'
    assert '503' in status_reason(503) and 'maintenance' in status_reason(503)
    assert 'server error' in status_reason(599)
