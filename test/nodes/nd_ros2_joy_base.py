"""
The real ROS 2 side of test_teleop_joy.py's rclpy test (rclpy on rmw_cyclonedds_cpp, with the
QoS the usual ROS 2 nodes use, ROS 2's default: reliable, keep last 10):

* a joystick like joy_node: sensor_msgs/Joy on ``/joy`` at 20 Hz, axes ``[0.0, 1.0]`` (stick
  up: +x), button 0 held;
* a holonomic base with no lag, like a base driver: geometry_msgs/Twist on ``/base/cmd_vel``
  (base_link, its yaw ``YAW_RAD``), nav_msgs/Odometry on ``/base/odom`` at 100 Hz.

Prints ``peer ready``, then once a second ``PEER twists=<received> nonzero=<count> x=<m> y=<m>``.
"""

from __future__ import annotations

import math
import time

import rclpy
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from sensor_msgs.msg import Joy

YAW_RAD = 0.3


def main() -> None:
    rclpy.init()
    node = rclpy.create_node('real_ros2_peer')
    joy_pub = node.create_publisher(Joy, '/joy', 10)
    odom_pub = node.create_publisher(Odometry, '/base/odom', 10)
    state = {'bx': 0.0, 'by': 0.0, 'x': 0.0, 'y': 0.0, 'twists': 0, 'nonzero': 0}

    def on_twist(msg: Twist) -> None:
        state['bx'], state['by'] = msg.linear.x, msg.linear.y
        state['twists'] += 1
        state['nonzero'] += int(msg.linear.x != 0.0 or msg.linear.y != 0.0)

    node.create_subscription(Twist, '/base/cmd_vel', on_twist, 10)

    def publish_joy() -> None:
        joy = Joy()
        joy.header.stamp = node.get_clock().now().to_msg()
        joy.axes = [0.0, 1.0]
        joy.buttons = [1]
        joy_pub.publish(joy)

    def step() -> None:
        c, s = math.cos(YAW_RAD), math.sin(YAW_RAD)
        vx = c * state['bx'] - s * state['by']
        vy = s * state['bx'] + c * state['by']
        state['x'] += vx * 0.01
        state['y'] += vy * 0.01
        odom = Odometry()
        odom.header.stamp = node.get_clock().now().to_msg()
        odom.header.frame_id = 'odom'
        odom.child_frame_id = 'base_link'
        odom.pose.pose.position.x, odom.pose.pose.position.y = state['x'], state['y']
        odom.pose.pose.orientation.z = math.sin(0.5 * YAW_RAD)
        odom.pose.pose.orientation.w = math.cos(0.5 * YAW_RAD)
        odom.twist.twist.linear.x, odom.twist.twist.linear.y = state['bx'], state['by']
        odom_pub.publish(odom)

    def report() -> None:
        print(f"PEER twists={state['twists']} nonzero={state['nonzero']} x={state['x']:.4f} "
              f"y={state['y']:.4f}", flush=True)

    node.create_timer(0.05, publish_joy)
    node.create_timer(0.01, step)
    node.create_timer(1.0, report)
    print('peer ready', flush=True)
    try:
        rclpy.spin(node)
    except KeyboardInterrupt:
        pass
    finally:
        time.sleep(0.1)
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    main()
