"""
``image_source``: publishes ``width`` x ``height`` rgb8 sensor_msgs/Image frames on ``image`` at
``rate_hz`` (sensor-data QoS), every pixel one value that counts up per frame. The three
parameters are read-only (read once, at start) and ranged: at most 4096 x 4096 pixels (48 MiB a
frame) and 0.1 to 120 Hz (the top of a camera's rates). Uses only ``ior_ros.runtime`` names, so
it runs on rclpy as well.
"""

from __future__ import annotations

import sys

import numpy as np

from ior_ros.nodes._descriptors import describe
from ior_ros.nodes._main import spin_node
from ior_ros.runtime import (
    Node,
    get_message,
    qos_profile_sensor_data,
)

Image = get_message('sensor_msgs/msg/Image')


class ImageSource(Node):  # type: ignore[misc]
    """Publishes synthetic rgb8 images."""

    def __init__(self) -> None:
        super().__init__('image_source')
        self.width = self.declare_parameter('width', 640, describe(
            'image width [pixels]; fixed at start', read_only=True,
            int_range=(1, 4096))).value
        self.height = self.declare_parameter('height', 480, describe(
            'image height [pixels]; fixed at start', read_only=True,
            int_range=(1, 4096))).value
        rate = self.declare_parameter('rate_hz', 10.0, describe(
            'frames per second [Hz]; fixed at start; at most 120 (a fast camera: more floods '
            'the network with large messages)', read_only=True, float_range=(0.1, 120.0))).value
        self.pub = self.create_publisher(Image, 'image', qos_profile_sensor_data)
        self.frame = np.zeros(self.width * self.height * 3, dtype=np.uint8)  # [h * w * 3]
        self.timer = self.create_timer(1.0 / rate, self.tick)

    def tick(self) -> None:
        self.frame[:] = (int(self.frame[0]) + 1) % 256
        msg = Image(height=self.height, width=self.width, encoding='rgb8', is_bigendian=0,
                    step=self.width * 3, data=self.frame)
        msg.header.stamp = self.get_clock().now().to_msg()
        self.pub.publish(msg)


def main(args: list[str] | None = None) -> int:
    return spin_node(ImageSource, args)


if __name__ == '__main__':
    sys.exit(main())
