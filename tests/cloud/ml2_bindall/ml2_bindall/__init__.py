"""A tiny ML2 mechanism driver for the devstack-client test cloud.

Real mechanism drivers (openvswitch, linuxbridge, ovn) bind a port only when an agent or controller reports
that the host can wire it. The test cloud has no agents and no real L2, and nova runs the fake virt driver, so
this driver binds every port, on whatever host, to the first segment offered, with vif_type "ovs".
Nova's fake driver never plugs VIFs nor waits for "network-vif-plugged", so the port staying DOWN is harmless.
"""

from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api


class BindAllMechanismDriver(api.MechanismDriver):
    """Bind any port to the first segment to bind, vif_type ovs (no agent, no host filter)."""

    def initialize(self):
        pass

    @property
    def connectivity(self):
        return portbindings.CONNECTIVITY_L2

    def check_vlan_transparency(self, context):
        return True

    def bind_port(self, context):
        for segment in context.segments_to_bind:
            context.set_binding(
                segment[api.ID],
                portbindings.VIF_TYPE_OVS,
                {portbindings.CAP_PORT_FILTER: False, portbindings.OVS_HYBRID_PLUG: False},
            )
            return
