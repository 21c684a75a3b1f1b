"""The two-queue teleoperation model of seed 003 (eqs. 4, 5): FIFO delays, positive part, eq. 4."""

from __future__ import annotations

import numpy as np
import pytest

from ior_ros.core.ran.teleop_queues import FifoDelayQueues, urllc_service_pps


def test_fifo_queue_delays_closed_form() -> None:
    q = FifoDelayQueues(1, deadline_slots=3)
    out = q.step(0, np.array([10.0]), np.array([2.0]))
    assert out.lengths[0] == 8 and out.served[0] == 2
    assert out.delay_slots[0] == 1  # served in the slot of arrival: one slot
    delays = [out.delay_slots[0]]
    late = 0.0
    for t in range(1, 5):
        out = q.step(t, np.array([0.0]), np.array([2.0]))
        delays.append(out.delay_slots[0])
        late += out.late[0]
    # the batch of slot 0 is fully served at the end of slot 4: sojourn 5 slots
    assert delays == [1, 2, 3, 4, 5]
    assert out.lengths[0] == 0
    assert late == pytest.approx(4.0)  # slots 3 and 4 served 2 packets each after 3 slots
    out = q.step(5, np.array([0.0]), np.array([2.0]))
    assert out.delay_slots[0] == 0


def test_queue_update_is_eq5_positive_part() -> None:
    q = FifoDelayQueues(2, deadline_slots=20)
    out = q.step(0, np.array([3.0, 1.0]), np.array([5.0, 0.5]))
    np.testing.assert_allclose(out.lengths, [0.0, 0.5])


def test_service_rate_is_eq4() -> None:
    mu = urllc_service_pps(np.array([8e6, 1e3]), 4000.0, 1000.0, np.array([0.5, 0.9]))
    np.testing.assert_allclose(mu, [2000.0 - 500.0, 0.0])
