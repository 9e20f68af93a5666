import pytest

from skeldir.cpus import cpu_limit


@pytest.mark.parametrize(
    ("quota", "period", "cpus"),
    [
        ("max", "100000", None),  # cgroup v2, no limit
        ("-1", "100000\n", None),  # cgroup v1, no limit
        ("200000", "100000", 2),
        ("150000", "100000", 2),  # 1.5 CPUs: two processes, each busy part of the time
        ("50000", "100000", 1),
        ("400000\n", "100000\n", 4),
        ("100000", "0", None),
    ],
)
def test_a_cgroup_cpu_quota_caps_the_processes_at_its_whole_cpus(quota, period, cpus):
    assert cpu_limit(quota, period) == cpus
