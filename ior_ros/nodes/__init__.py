"""
Thin ROS 2 nodes: parameters -> config -> core object -> publishers/subscriptions.

One module per node, as in ros2/demos: a module-level ``Node`` subclass and ``main(args=None)``.
The module name is the executable (``ros2 run ior_ros <name>``, ``python -m
ior_ros.runtime.exec ior_ros <name>``, ``exec: <name>`` in launch files); CMake installs one per
module (names starting with ``_`` are not executables). The demo nodes of the runtime are here
too: ``talker``, ``listener``, ``param_reporter``, ``sim_timer``, ``clock_publisher``,
``image_source``, ``set_bool_server``, ``set_bool_client``. Nodes use only ``ior_ros.runtime``
names, so they run on rclpy as well as on the DDS runtime.
"""
