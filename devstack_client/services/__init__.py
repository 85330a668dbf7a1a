"""One service per OpenStack service type: JSON in, plain dicts out, no Flask."""

from devstack_client.services.compute import ComputeService
from devstack_client.services.image import ImageService
from devstack_client.services.keypair import KeypairService
from devstack_client.services.limits import LimitsService
from devstack_client.services.network import NetworkService

__all__ = ["ComputeService", "ImageService", "KeypairService", "LimitsService", "NetworkService"]
