"""The test cloud's volume backend: cinder's FakeLoggingVolumeDriver plus an instant "create volume from image".

FakeLoggingVolumeDriver inherits LVM's image download (privsep through sudo, qemu-img, /dev/cinder-volumes/...),
which cannot work here. Reporting a successful backend-side clone makes cinder skip the download; it still
records the image's metadata and marks the volume bootable, so boot from volume works.
"""

from cinder.tests import fake_driver


class FakeImageCloningDriver(fake_driver.FakeLoggingVolumeDriver):
    def clone_image(self, context, volume, image_location, image_meta, image_service):
        self.create_volume(volume)
        return {}, True
