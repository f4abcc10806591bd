"""scripts/testbed.plan for Python: the testbed's addresses and VLANs, and what is made of them
(testbed.sh's options for a kind of testbed, the forwarder's --vlan-nat options). Importers put
scripts/ on sys.path (Tests/Integration/harness.py, bench/compare/testbed.py)."""

import os

PLAN_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testbed.plan")


def _read(path):
    plan = {}
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, sep, value = line.partition("=")
            if not sep or not key.isidentifier() or not value or " " in value:
                raise ValueError(f"{path}:{number}: not KEY=value: {line!r}")
            plan[key] = value
    return plan


_plan = _read(PLAN_FILE)
PREFIX_LEN = int(_plan["PREFIX_LEN"])
L2_HOST_A, L2_HOST_B = _plan["L2_HOST_A"], _plan["L2_HOST_B"]
NAT_HOST_A, NAT_GW_INSIDE = _plan["NAT_HOST_A"], _plan["NAT_GW_INSIDE"]
NAT_HOST_B, NAT_GW_OUTSIDE = _plan["NAT_HOST_B"], _plan["NAT_GW_OUTSIDE"]
VLAN_A, VLAN_B = int(_plan["VLAN_A"]), int(_plan["VLAN_B"])

# Host A's and host B's addresses per `testbed.sh --hosts` value.
HOSTS = {"l2": (L2_HOST_A, L2_HOST_B), "nat": (NAT_HOST_A, NAT_HOST_B)}


def testbed_args(hosts="l2", vlans=False):
    """testbed.sh up's options for the plan's `hosts` ("l2" or "nat"), the hosts on their VLANs
    when `vlans`."""
    assert hosts in HOSTS, hosts
    return ["--hosts", hosts] + (["--vlans"] if vlans else [])


def subnet_stem(address):
    """"192.168.10." of "192.168.10.2": a /24's addresses are this and a last byte."""
    assert PREFIX_LEN == 24, "the plan's subnets are /24s"
    return address.rsplit(".", 1)[0] + "."


def nat_forwarder_args():
    """The forwarder's --vlan-nat options for the NAT testbed (hosts nat, VLANs on)."""
    return ["--vlan-nat", "--inside", f"{NAT_GW_INSIDE}/{PREFIX_LEN}", "--inside-vlan", str(VLAN_A),
            "--outside", f"{NAT_GW_OUTSIDE}/{PREFIX_LEN}", "--outside-vlan", str(VLAN_B)]
